"""Background jobs of dispatch (Celery). They only call services."""

from celery import shared_task


@shared_task(name="logistics.solve_decision", bind=True, acks_late=True)
def solve_decision(self, decision_id: str) -> str:
    """Solve a decision. Safe to run more than once (a message redelivered after its worker died):
    the run claims the decision atomically, and one that does not get the claim changes nothing."""
    from .services import decision_solve

    return decision_solve(decision_id=decision_id, worker=self.request.hostname or "").status


@shared_task(name="logistics.fail_stuck_decisions")
def fail_stuck_decisions() -> int:
    """The sweeper, every minute on beat: fail the decisions whose worker stopped mid-solve."""
    from .services import decisions_fail_stuck

    return len(decisions_fail_stuck())
