"""Event jobs on Celery: numbering backstop, delivery of webhooks, retention."""

from celery import shared_task

from . import services


@shared_task(name="events.assign_sequences")
def assign_sequences() -> int:
    """Backstop on beat: number events whose transaction's own sequencer did not run (a crash after commit), and
    announce the highest number again: an announcement lost on its way (a process killed between its commit and its
    announcement, Redis failing for a moment) leaves watchers waiting at most until this job's next run."""
    total = 0
    while numbered := services.assign_sequences():
        total += numbered
    if not total:
        services.announce_latest()
    return total


@shared_task(name="events.prune")
def prune() -> int:
    return services.prune_events()


def queue_deliveries(delivery_ids: list[int]) -> None:
    """Queue each delivery (called after the sequencer's commit)."""
    from .webhooks import queue

    for delivery_id in delivery_ids:
        queue(delivery_id)


@shared_task(name="events.deliver", acks_late=True)
def deliver(delivery_id: int) -> str:
    """One attempt of one webhook delivery; its own job, so a slow receiver holds up nothing else. Safe to run
    twice (a message redelivered after its worker died): the attempt claims the delivery under a row lock."""
    from .webhooks import attempt

    return attempt(delivery_id)


@shared_task(name="events.requeue_due_deliveries")
def requeue_due_deliveries() -> int:
    """Every minute on beat: queue again the due deliveries whose message was lost (broker down, worker died)."""
    from .webhooks import requeue_due

    return requeue_due()
