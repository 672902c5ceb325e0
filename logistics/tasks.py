"""Background jobs of dispatch (Celery). They only call services."""

from celery import shared_task


@shared_task(name="logistics.solve_decision", acks_late=True)
def solve_decision(decision_id: str) -> str:
    from .services import decision_solve

    return decision_solve(decision_id=decision_id).status
