"""Waking the watchers when new events are numbered.

``announce(sequence)`` is called after the sequencer's transaction commits. Within a process it wakes every
thread waiting in ``wait_for`` at once; across processes and machines it publishes the sequence on Redis pub/sub
(channel ``EVENTS_CHANNEL``) when the cache is Redis, so each process's listener wakes its own waiters. Without
Redis (SQLite, ``make run``) waiters also look at the table every ``EVENTS_POLL_SECONDS``."""

import logging
import threading

from django.conf import settings

logger = logging.getLogger(__name__)

_condition = threading.Condition()
_latest = 0


def announce(sequence: int) -> None:
    _wake(sequence)
    url = redis_url()
    if url:
        try:
            _publisher(url).publish(settings.EVENTS_CHANNEL, str(sequence))
        except Exception:  # a lost wake-up costs a waiter at most one poll interval
            logger.warning("Could not announce event %s on Redis", sequence, exc_info=True)


def _wake(sequence: int) -> None:
    global _latest
    with _condition:
        if sequence > _latest:
            _latest = sequence
        _condition.notify_all()


def wait_for(after: int, timeout: float) -> bool:
    """Block up to ``timeout`` seconds for an announcement past ``after``; True if one came."""
    with _condition:
        return _condition.wait_for(lambda: _latest > after, timeout=timeout)


def redis_url() -> str | None:
    cache = settings.CACHES.get("default", {})
    location = cache.get("LOCATION") if "redis" in cache.get("BACKEND", "").lower() else None
    if isinstance(location, list | tuple):
        location = location[0] if location else None
    return location


_publishers: dict[str, object] = {}


def _publisher(url: str):
    import redis

    client = _publishers.get(url)
    if client is None:
        client = _publishers[url] = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    return client
