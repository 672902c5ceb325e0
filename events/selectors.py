"""Reading events: the feed a reader may see, in sequence order."""

from .models import Event
from .types import readable_types

FEED_LIMIT = 100
FEED_MAX_LIMIT = 500


def events_after(user, *, after: int = 0, types: list[str] | None = None, limit: int = FEED_LIMIT) -> list[Event]:
    """The numbered events after ``after`` that ``user`` may read (of ``types``, when given), oldest first."""
    allowed = readable_types(user)
    if types:
        allowed = [name for name in allowed if name in set(types)]
    if not allowed:
        return []
    return list(
        Event.objects.filter(sequence__gt=after, type__in=allowed).order_by("sequence")[: min(limit, FEED_MAX_LIMIT)]
    )


def last_sequence() -> int:
    """The highest sequence given so far (0 before any): where a new reader starts to hear only what comes next."""
    latest = Event.objects.filter(sequence__isnull=False).order_by("-sequence").values_list("sequence", flat=True)
    return next(iter(latest[:1]), 0)
