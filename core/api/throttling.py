"""Request throttles that count requests instead of logging each one.

DRF's throttles keep the timestamp of every request in the window as one cached list that each
request reads, unpickles, extends, pickles and writes back: two cache round trips, work that
grows with the limit (1,200 entries at 1200/min), and two workers reading the same list at once
both write it back, losing a request. These keep one counter per window of ``duration`` seconds
and estimate the requests of the last ``duration`` seconds as this window's count plus the
previous window's, weighted by how much of it still overlaps (the "sliding window counter"): one
atomic round trip (``core.fastpaths.cache.RedisCache.count``), exact counts, and no burst of twice the limit
at a window's edge. A refused request is not counted, as with DRF's: a client waiting out its
429s gets its rate back.

Without the cache (Redis unreachable, ``core.fastpaths.cache``) nothing can be counted and every
request is let through: the throttles, and the sign-in protection built on them
(``accounts.signin``), fail open, with a warning at most once a minute per process.
"""

import logging
import threading
import time

from rest_framework import throttling

from core.fastpaths.cache import cache_degraded
from core.network import client_address

logger = logging.getLogger(__name__)

FAIL_OPEN_WARNING_SECONDS = 60.0
_warned = {"at": None}
_warned_lock = threading.Lock()


def warn_failing_open() -> None:
    """Log that throttles are failing open, at most once every FAIL_OPEN_WARNING_SECONDS per process."""
    now = time.monotonic()
    with _warned_lock:
        if _warned["at"] is not None and now - _warned["at"] < FAIL_OPEN_WARNING_SECONDS:
            return
        _warned["at"] = now
    logger.warning("Throttles and sign-in lockouts are failing open: the cache is unreachable")


def cache_count(cache, key: str, timeout: int, *, delta: int = 1, peek: str | None = None) -> tuple[int, int]:
    """Add ``delta`` to the counter ``key`` (created to live ``timeout`` seconds) and return its new
    value with that of the counter ``peek`` (0 when absent); (0, 0) when the cache is unreachable."""
    count = getattr(cache, "count", None)
    if count is not None:  # core.fastpaths.cache.RedisCache: one round trip
        counted = count(key, timeout, delta=delta, peek=peek)
        if cache_degraded(cache):
            warn_failing_open()
            return 0, 0
        return counted
    cache.add(key, 0, timeout)
    try:
        value = cache.incr(key, delta)
    except ValueError:  # the counter expired between add and incr
        cache.add(key, max(delta, 0), timeout)
        value = max(delta, 0)
    return value, (cache.get(peek) or 0) if peek is not None else 0


class CountingThrottle(throttling.SimpleRateThrottle):
    def get_ident(self, request):
        # Never DRF's reading of X-Forwarded-For, which the client writes when NUM_PROXIES is unset.
        return client_address(request)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.elapsed = now / self.duration - window  # share of the current window gone by
        key = f"{self.key}:{window}"
        # A counter lives through its window and the next, where it is the previous one.
        current, previous = cache_count(self.cache, key, 2 * self.duration + 1, peek=f"{self.key}:{window - 1}")
        self.current, self.previous = current, previous
        if current + previous * (1 - self.elapsed) <= self.num_requests:
            return True
        cache_count(self.cache, key, 2 * self.duration + 1, delta=-1)
        self.current -= 1
        return False

    def wait(self):
        """Seconds until one more request fits under the limit."""
        if self.previous and self.current < self.num_requests:
            # (current + 1) + previous * (1 - elapsed') = limit, solved for elapsed'
            until = 1 - (self.num_requests - self.current - 1) / self.previous
            return max(0.0, (until - self.elapsed) * self.duration)
        return (1 - self.elapsed) * self.duration


class AnonRateThrottle(throttling.AnonRateThrottle, CountingThrottle):
    pass


class UserRateThrottle(throttling.UserRateThrottle, CountingThrottle):
    pass


class ScopedRateThrottle(throttling.ScopedRateThrottle, CountingThrottle):
    pass
