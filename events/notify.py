"""Waking the watchers when new events are numbered.

``announce(sequence)`` is called after the sequencer's transaction commits. It wakes every waiter of this process at
once and, when the cache is Redis, publishes the sequence on Redis pub/sub (channel ``EVENTS_CHANNEL``): each
process that has watchers runs one listener thread (``start_listener``) that hears it and wakes its own waiters.

A waiter takes ``mark()`` (a count of the announcements this process heard) before it reads the table, then waits
for an announcement after that mark (``wait_async`` in an event loop, ``wait_for`` in a thread); whatever is
announced between its read and its wait wakes it at once, so nothing is missed. Counting announcements rather than
comparing sequences keeps waiters right when the numbers start again (a database restored or emptied, tests). Waiters of any thread or event loop are woken: the ASGI server has one loop
per process, ``runserver`` one per request.

Without Redis (SQLite, ``make run``) only the announcements of this process are heard, so waiters also look at the
table every ``EVENTS_POLL_SECONDS``; with Redis they poll at that pace only while the listener is not subscribed
(Redis down), and the listener wakes everyone once when it subscribes again, since announcements sent meanwhile
were lost.
"""

import asyncio
import contextlib
import logging
import threading

from django.conf import settings

logger = logging.getLogger(__name__)

_condition = threading.Condition()
_latest = 0  # the highest sequence heard
_heard = 0  # announcements heard (the waiters' mark)
_blocked = 0  # threads in wait_for
# Async waiters: future → its loop, woken with call_soon_threadsafe from whichever thread announces.
_waiters: dict[asyncio.Future, asyncio.AbstractEventLoop] = {}


def announce(sequence: int) -> None:
    _wake(sequence)
    url = redis_url()
    if url:
        try:
            _publisher(url).publish(settings.EVENTS_CHANNEL, str(sequence))
        except Exception:  # a lost wake-up costs a waiter at most one poll interval
            logger.warning("Could not announce event %s on Redis", sequence, exc_info=True)


def latest() -> int:
    """The highest sequence announced to this process so far (0 before any)."""
    return _latest


def mark() -> int:
    """Take before reading the table; ``wait_*(mark, …)`` then returns at the first announcement after it."""
    return _heard


def _wake(sequence: int | None) -> None:
    """An announcement (``None``: the listener reconnected, announcements may have been lost): wake everyone."""
    global _latest, _heard
    with _condition:
        if sequence is not None:
            _latest = max(_latest, sequence)
        _heard += 1
        _condition.notify_all()
        waiters = list(_waiters.items())
    for future, loop in waiters:
        with contextlib.suppress(RuntimeError):  # the loop closed: its waiter is gone
            loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def wait_for(after: int, timeout: float) -> bool:
    """Block up to ``timeout`` seconds (cut to the poll interval when announcements may be missed) for an
    announcement after the mark ``after``; True if one came."""
    global _blocked
    with _condition:
        _blocked += 1
        _condition.notify_all()
        try:
            return _condition.wait_for(lambda: _heard > after, timeout=min(timeout, poll_seconds()))
        finally:
            _blocked -= 1


async def wait_async(after: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds (cut to the poll interval when announcements may be missed) for an
    announcement after the mark ``after``, holding no thread; True if one came. The caller reads the table either way."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    with _condition:
        if _heard > after:
            return True
        _waiters[future] = loop
        _condition.notify_all()
    try:
        await asyncio.wait_for(future, timeout=min(timeout, poll_seconds()))
        return True
    except TimeoutError:
        return _heard > after
    finally:
        with _condition:
            _waiters.pop(future, None)


def waiting() -> int:
    """How many waiters (async and blocked threads) this process holds now."""
    return len(_waiters) + _blocked


def wait_for_waiters(count: int, timeout: float) -> bool:
    """Block until at least ``count`` waiters are parked (tests); False after ``timeout`` seconds."""
    with _condition:
        return _condition.wait_for(lambda: waiting() >= count, timeout=timeout)


def poll_seconds() -> float:
    """How long a waiter may rely on wake-ups alone before it reads the table again."""
    if redis_url() and _listener.subscribed.is_set():
        return float("inf")
    return getattr(settings, "EVENTS_POLL_SECONDS", 0.5)


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


class _Listener:
    """One thread per process subscribed to EVENTS_CHANNEL, waking this process's waiters. It reconnects after
    an outage with a growing pause (up to 5 s) and stops with the process (daemon) or ``stop_listener``."""

    def __init__(self):
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.subscribed = threading.Event()

    def start(self) -> bool:
        url = redis_url()
        if not url:
            return False
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.stopping = threading.Event()
                self.thread = threading.Thread(
                    target=self._run, args=(url, settings.EVENTS_CHANNEL, self.stopping), daemon=True
                )
                self.thread.name = "events-listener"
                self.thread.start()
        return True

    def stop(self, timeout: float = 5) -> None:
        with self.lock:
            thread, self.thread = self.thread, None
            self.stopping.set()
        if thread is not None:
            thread.join(timeout)
        self.subscribed.clear()

    def _run(self, url: str, channel: str, stopping: threading.Event) -> None:
        import redis

        pause = 0.1
        while not stopping.is_set():
            client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=None, health_check_interval=30)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(channel)
                while not stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if not self.subscribed.is_set() and pubsub.subscribed:
                        self.subscribed.set()
                        pause = 0.1
                        # Announcements sent while we were not subscribed are lost: everyone reads again.
                        _wake(None)
                    if message and message.get("type") == "message":
                        try:
                            _wake(int(message["data"]))
                        except (TypeError, ValueError):
                            logger.warning("Ignoring a malformed announcement on %s: %r", channel, message["data"])
            except Exception:
                if not stopping.is_set():
                    logger.warning("The events listener lost Redis; waiters poll until it is back", exc_info=True)
            finally:
                self.subscribed.clear()
                _wake(None)  # waiters switch to polling now, not at their next timeout
                try:
                    pubsub.close()
                    client.close()
                except Exception:
                    pass
            stopping.wait(pause)
            pause = min(pause * 2, 5.0)


_listener = _Listener()


def start_listener() -> bool:
    """Subscribe this process to EVENTS_CHANNEL (once; idempotent). False without a Redis cache."""
    return _listener.start()


def stop_listener() -> None:
    _listener.stop()


def listener_ready(timeout: float) -> bool:
    """Wait until the listener is subscribed (tests, and the ASGI server's start-up)."""
    return _listener.subscribed.wait(timeout)
