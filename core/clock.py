"""The time the write path stamps on what it writes: ``now()``.

It is ``timezone.now()``, except inside ``frozen_at(moment)``, where it is ``moment``. A replay of past
events (the demo's desk history, ``demo.desk_history``) runs each event's services inside
``frozen_at`` its moment, so the rows, their audit timestamps and their change history carry the time the
event happened, without patching the process's clock. The moment is held in a context variable: it is
unset in every request, job and command that does not set it, so they get the real time.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

_frozen: ContextVar[datetime | None] = ContextVar("core_clock_frozen", default=None)


def now() -> datetime:
    """The moment held by ``frozen_at``, else the real time."""
    moment = _frozen.get()
    return timezone.now() if moment is None else moment


def frozen() -> datetime | None:
    """The moment held by ``frozen_at``, or None when the clock runs."""
    return _frozen.get()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[datetime]:
    """Hold ``now()`` at ``moment`` (an aware datetime) inside the block."""
    if timezone.is_naive(moment):
        raise ValueError("frozen_at needs an aware datetime.")
    token = _frozen.set(moment)
    try:
        yield moment
    finally:
        _frozen.reset(token)
