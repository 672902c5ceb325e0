"""Writing events: ``publish`` and, for bulk paths, ``publish_many`` (by the apps' services, inside their
transaction), numbering them in commit order (``assign_sequences``), planning their webhook deliveries, and
pruning old ones.

Why numbers are given after commit: an id from a sequence is taken when the row is inserted, so a transaction that
commits late can hold a smaller id than one already read; a reader following "after N" would skip it forever. Here
the sequencer, under one transaction lock (``core.db.locks.transaction_lock``), numbers the committed events that
have no number yet, in id order, after the highest number given. A transaction still open is invisible to it (READ
COMMITTED on PostgreSQL and MySQL; SQLite admits one writer at a time), so its events get numbers above every number
a reader may already have seen. The sequencer runs right after each transaction that published (``on_commit``): in
the process's sequencer thread (``events.sequencer``, ``EVENTS_SEQUENCER_THREAD``), or in the publishing request
itself; and every few seconds on beat for any a crash left behind."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Max

from core import clock
from core.context import get_current_user
from core.db.locks import transaction_lock

from .models import Delivery, Event, WebhookEndpoint
from .types import TYPES, readable_types

logger = logging.getLogger(__name__)

SEQUENCE_LOCK = "events.sequence"
SEQUENCE_BATCH = 5000


def publish(event_type: str, *, obj, payload: dict, actor=None) -> Event:
    """Record that ``obj`` changed, in the caller's transaction (call it inside ``atomic``, after the change)."""
    if event_type not in TYPES:
        raise ValueError(f"Unknown event type {event_type!r}.")
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("publish() belongs inside the change's transaction.")
    user = actor if actor is not None else get_current_user()
    event = Event.objects.create(
        type=event_type,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        payload=payload,
        actor=user if user is not None and user.is_authenticated else None,
    )
    _sequence_after_commit()
    return event


def publish_many(event_type: str, *, items, actor=None, batch_size: int = 2000) -> int:
    """``publish`` for many changed objects of one type at once (a bulk import, a bulk close): one INSERT per
    ``batch_size`` events, in the caller's transaction. ``items`` yields ``(obj, payload)``, where ``obj`` is a
    model instance or, for rows written without one, ``(model, pk)``. Returns how many were written."""
    if event_type not in TYPES:
        raise ValueError(f"Unknown event type {event_type!r}.")
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("publish_many() belongs inside the change's transaction.")
    user = actor if actor is not None else get_current_user()
    actor_id = user.pk if user is not None and user.is_authenticated else None
    now = clock.now()
    rows = []
    for obj, payload in items:
        model, pk = obj if isinstance(obj, tuple) else (type(obj), obj.pk)
        rows.append(
            Event(
                type=event_type,
                object_type=model._meta.label_lower,
                object_id=str(pk),
                payload=payload,
                actor_id=actor_id,
                created_at=now,
            )
        )
    if not rows:
        return 0
    Event.objects.bulk_create(rows, batch_size=batch_size)
    _sequence_after_commit()
    return len(rows)


def _sequence_after_commit() -> None:
    # Once per publishing transaction, after it commits (a rollback drops the callback with the events; a savepoint
    # rolled back drops it too, and the next publish registers it again): a booking that publishes three events
    # asks for one run, not three. Django keeps the callbacks of the open transaction in ``run_on_commit``
    # (tests/events/test_outbox.py holds it to that).
    if not any(func is _numbering_due for _, func, _ in connection.run_on_commit):
        transaction.on_commit(_numbering_due)


def _numbering_due() -> None:
    if settings.EVENTS_SEQUENCER_THREAD:
        from .sequencer import sequencer

        sequencer.wake()  # the process's sequencer thread numbers them; this request answers at once
        return
    try:
        assign_sequences()
    except DatabaseError:
        logger.warning("Numbering new events failed; the beat job will number them", exc_info=True)


def assign_sequences(limit: int = SEQUENCE_BATCH) -> int:
    """Number the committed events that have no number yet, in id order; plan their deliveries; announce them.
    Returns how many were numbered."""
    with transaction.atomic():
        transaction_lock(SEQUENCE_LOCK)
        pending = list(Event.objects.filter(sequence__isnull=True).order_by("id").values_list("id", "type")[:limit])
        if not pending:
            return 0
        last = Event.objects.aggregate(last=Max("sequence"))["last"] or 0
        ids = [pk for pk, _ in pending]
        # One UPDATE for the batch: each event's number keeps its id's order and starts above every number given
        # (gaps where a rolled-back transaction took ids are harmless: readers follow "after N").
        offset = last + 1 - ids[0]
        # race-safe conditional write: numbering under the sequence lock; an event is not a versioned model
        Event.objects.filter(pk__in=ids).update(sequence=F("id") + offset)
        deliveries = _plan_deliveries([(pk, event_type) for pk, event_type in pending])
        highest = ids[-1] + offset
        transaction.on_commit(lambda: _after_sequencing(highest, deliveries))
    return len(pending)


def _plan_deliveries(events: list[tuple[int, str]]) -> list[int]:
    """A Delivery row for each new event and each active endpoint that wants its type and whose owner may read it."""
    # The secrets are not needed here: left encrypted (a key missing from the settings fails the delivery, not
    # the numbering of every event).
    endpoints = list(
        WebhookEndpoint.objects.filter(is_active=True).select_related("owner").defer("secret", "previous_secret")
    )
    if not endpoints:
        return []
    readable = {endpoint.pk: set(readable_types(endpoint.owner)) for endpoint in endpoints}
    now = clock.now()
    rows = [
        Delivery(event_id=pk, endpoint=endpoint, next_attempt_at=now)
        for pk, event_type in events
        for endpoint in endpoints
        if endpoint.wants(event_type) and event_type in readable[endpoint.pk]
    ]
    created = Delivery.objects.bulk_create(rows)
    return [delivery.pk for delivery in created if delivery.pk is not None]


def _after_sequencing(highest: int, deliveries: list[int]) -> None:
    from . import notify

    notify.announce(highest)
    if deliveries:
        from .tasks import queue_deliveries

        queue_deliveries(deliveries)


def announce_latest() -> None:
    """Announce the highest number given again (the beat job): watchers read through it what they may have missed."""
    from . import notify
    from .selectors import last_sequence

    highest = last_sequence()
    if highest:
        notify.announce(highest)


def prune_events(*, older_than_days: int | None = None) -> int:
    """Delete events (and their deliveries) older than EVENTS_RETENTION_DAYS. Returns how many events went."""
    days = settings.EVENTS_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = clock.now() - timedelta(days=days)
    deleted, by_model = Event.objects.filter(created_at__lt=cutoff, sequence__isnull=False).delete()
    return by_model.get(Event._meta.label, 0)
