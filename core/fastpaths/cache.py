"""Django's Redis cache backend, with one Redis client per connection pool and one set of pools per process, that
survives losing Redis.

Django's ``RedisCacheClient.get_client()`` builds a new ``redis.Redis`` (and its table of
response callbacks) for every cache call; on the API's hot path that is several per request
(authentication, the token's last-use mark, the throttle). A ``redis.Redis`` is thread-safe and
holds no state beyond its pool, so one per pool serves every call.

Django also builds a backend, and with it new connection pools, per thread and, under ASGI, per request (``caches``
is context-local): every request of the ASGI server would open a Redis connection for its first cache call and drop
it after. The pools are therefore kept per process, one ``RedisCacheClient`` per location and options, shared by
every backend instance (redis-py's pools are thread-safe and start afresh in a forked child).

Losing Redis costs no request. Every operation the platform uses catches Redis's connection and
timeout errors: a read is a miss (``get`` answers the default, ``get_many`` nothing, ``count``
zeros, ``incr`` raises ``ValueError`` as for a missing key), a write stores nothing (``add``,
``touch``, ``delete`` answer False, ``set_many`` names every key as not stored). After a failure
this process skips Redis altogether for ``OUTAGE_BACKOFF_SECONDS`` (a key of the cache's
settings, default 5), so a request pays the client timeouts (``socket_connect_timeout`` and
``socket_timeout`` in ``OPTIONS``) at most once; the first call after that window tries again.
``degraded`` is True from a failure until a call succeeds; a warning is logged at most once a
minute while it lasts, and once when Redis is back. Keys this process failed to delete (the
invalidations of ``accounts.signals`` and ``core.runtime``) are deleted first when it is back,
so an entry made stale during the outage is not read afterwards; a process that exits before
then leaves them to their TTL. ``probe()`` (the readiness check) ignores the back-off window.

Callers that must tell "absent" from "unknown" read ``degraded`` after the call
(``cache_degraded()``): the throttles fail open, the FMCSA breaker keeps its state in the
process.

Private APIs it touches (tests/core/test_fastpaths_guards.py): Django's ``RedisCacheClient``
``_get_connection_pool_index``, ``_get_connection_pool`` and ``_client``; ``RedisCache._class`` (the
client class it builds) and ``_cache`` (that client)."""

import logging
import threading
import time

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property

logger = logging.getLogger(__name__)

# What losing Redis raises (BusyLoadingError, a Redis still loading its data, is a ConnectionError).
OUTAGE_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
DEFAULT_OUTAGE_BACKOFF_SECONDS = 5.0
WARNING_INTERVAL_SECONDS = 60.0
MAX_PENDING_DELETES = 10_000


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._redis_clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._redis_clients.get(index)
        if client is None:
            client = self._client(connection_pool=self._get_connection_pool(write))
            self._redis_clients[index] = client
        return client


class Outage:
    """What this process knows of one Redis location's health. Django builds a cache backend per
    thread; they share this, so one thread's failure spares the others the timeout."""

    def __init__(self, location: str, backoff: float):
        self.location = location
        self.backoff = backoff
        self.lock = threading.Lock()
        self.failed = False  # since the last failure, no call has succeeded
        self.retry_at = 0.0  # time.monotonic() before which Redis is not tried
        self.warned_at: float | None = None
        self.pending_deletes: dict[str, None] = {}  # made keys, oldest first

    def skipping(self) -> bool:
        return self.failed and time.monotonic() < self.retry_at

    def record_failure(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self.lock:
            self.failed = True
            self.retry_at = now + self.backoff
            warn = self.warned_at is None or now - self.warned_at >= WARNING_INTERVAL_SECONDS
            if warn:
                self.warned_at = now
        if warn:
            logger.warning(
                "The Redis cache is unreachable (%s); serving without it, retrying every %g s",
                type(exc).__name__,
                self.backoff,
                extra={"cache_error": type(exc).__name__},
            )

    def record_success(self) -> None:
        with self.lock:
            was_failed, self.failed, self.warned_at = self.failed, False, None
        if was_failed:
            logger.warning("The Redis cache is reachable again")

    def forget_later(self, keys) -> None:
        with self.lock:
            for key in keys:
                self.pending_deletes[key] = None
            while len(self.pending_deletes) > MAX_PENDING_DELETES:
                del self.pending_deletes[next(iter(self.pending_deletes))]

    def take_pending(self) -> list[str]:
        with self.lock:
            keys, self.pending_deletes = list(self.pending_deletes), {}
        return keys


_outages: dict[tuple, Outage] = {}
_outages_lock = threading.Lock()


def _outage_for(location: str, backoff: float) -> Outage:
    with _outages_lock:
        outage = _outages.get((location, backoff))
        if outage is None:
            outage = _outages[(location, backoff)] = Outage(location, backoff)
        return outage


class _Skipped(Exception):
    """Redis is not tried during the back-off window."""


_clients: dict[tuple, RedisCacheClient] = {}
_clients_lock = threading.Lock()


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient
        backoff = float(params.get("OUTAGE_BACKOFF_SECONDS", DEFAULT_OUTAGE_BACKOFF_SECONDS))
        self._outage = _outage_for(",".join(self._servers), backoff)

    @cached_property
    def _cache(self):
        key = (self._class, tuple(self._servers), repr(sorted(self._options.items())))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client

    @property
    def degraded(self) -> bool:
        """True from a failed call to Redis until one succeeds."""
        return self._outage.failed

    def validate_key(self, key):
        # Django's check warns about keys memcached would refuse (over 250 characters, spaces,
        # control characters), a loop over every character of every key; Redis takes any key.
        pass

    # --- Calls that survive an outage ----------------------------------------------------

    def _call(self, operation, *args, **kwargs):
        """``operation(*args, **kwargs)``, raising ``_Skipped`` instead of Redis's errors."""
        outage = self._outage
        if outage.failed:
            if outage.skipping():
                raise _Skipped
            try:
                self._delete_pending()
            except OUTAGE_ERRORS as exc:
                outage.record_failure(exc)
                raise _Skipped from exc
        try:
            result = operation(*args, **kwargs)
        except OUTAGE_ERRORS as exc:
            outage.record_failure(exc)
            raise _Skipped from exc
        if outage.failed:
            outage.record_success()
        return result

    def _delete_pending(self):
        keys = self._outage.take_pending()
        if not keys:
            return
        try:
            self._cache.get_client(write=True).delete(*keys)  # keys already made
        except BaseException:
            self._outage.forget_later(keys)
            raise

    def _or(self, fallback, operation, *args, **kwargs):
        try:
            return self._call(operation, *args, **kwargs)
        except _Skipped:
            return fallback

    def probe(self, key, value, timeout) -> object:
        """Write ``value`` at ``key``, read it back and delete it, whatever the back-off window;
        Redis's errors propagate. What was read is returned."""
        try:
            self._delete_pending()
            super().set(key, value, timeout)
            found = super().get(key)
            super().delete(key)
        except OUTAGE_ERRORS as exc:
            self._outage.record_failure(exc)
            raise
        if self._outage.failed:
            self._outage.record_success()
        return found

    def get(self, key, default=None, version=None):
        return self._or(default, super().get, key, default, version)

    def get_many(self, keys, version=None):
        return self._or({}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return self._or(False, super().has_key, key, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._or(None, super().set, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or(list(data), super().set_many, data, timeout, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or(False, super().add, key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._or(False, super().touch, key, timeout, version)

    def incr(self, key, delta=1, version=None):
        try:
            return self._call(super().incr, key, delta, version)
        except _Skipped:
            raise ValueError(f"Key '{key}' not found (the cache is unreachable).") from None

    def delete(self, key, version=None):
        try:
            return self._call(super().delete, key, version)
        except _Skipped:
            self._outage.forget_later([self.make_and_validate_key(key, version=version)])
            return False

    def delete_many(self, keys, version=None):
        keys = list(keys)
        try:
            self._call(super().delete_many, keys, version)
        except _Skipped:
            self._outage.forget_later([self.make_and_validate_key(key, version=version) for key in keys])

    def clear(self):
        self._or(None, super().clear)

    def count(self, key, timeout, *, delta=1, peek=None, version=None) -> tuple[int, int]:
        """Add ``delta`` to the counter ``key`` (created with ``timeout`` seconds to live) and
        return its new value with that of the counter ``peek`` (0 when absent), in one round
        trip; concurrent callers never lose a count. (0, 0) when Redis is unreachable."""
        return self._or((0, 0), self._count, key, timeout, delta=delta, peek=peek, version=version)

    def _count(self, key, timeout, *, delta, peek, version):
        key = self.make_and_validate_key(key, version=version)
        # One round trip, no MULTI/EXEC: INCRBY alone is atomic, and EXPIRE NX and the peek
        # need not be in step with it.
        pipe = self._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.incrby(key, delta)
        pipe.expire(key, timeout, nx=True)
        if peek is not None:
            pipe.get(self.make_and_validate_key(peek, version=version))
        results = pipe.execute()
        return results[0], int(results[2] or 0) if peek is not None else 0


def cache_degraded(cache) -> bool:
    """Whether ``cache`` (a backend, or ``django.core.cache.cache``) is serving without its server
    since its last call: what it answered then was a miss for want of a server, not an answer."""
    return bool(getattr(cache, "degraded", False))
