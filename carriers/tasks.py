"""Background jobs of the sales desk (Celery). They only call services."""

from celery import shared_task


@shared_task(name="carriers.announce_due_follow_ups")
def announce_due_follow_ups() -> int:
    """Every minute on beat: publish ``follow_up.due`` once for each open follow-up whose due time has passed."""
    from .services import FOLLOW_UP_DUE_BATCH, follow_ups_announce_due

    announced = total = follow_ups_announce_due()
    while announced == FOLLOW_UP_DUE_BATCH:  # a backlog (the beat was down): the rest, batch by batch
        announced = follow_ups_announce_due()
        total += announced
    return total
