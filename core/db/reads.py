"""Where a request's reads go: the primary, or a replica that is well and has the client's own writes.

Only requests marked by ``core.db.middleware.ReplicaMiddleware`` read from replicas; anything else (Celery jobs,
management commands, the shell, code outside a request) reads from the primary. Within a marked request a read
goes to the primary when

* it runs inside a transaction on the primary (``atomic()``, ``select_for_update()``), so it sees the
  transaction's own rows and its locks mean something;
* the request has written (the rest of the request reads what it wrote);
* the request's user is not yet known (authentication itself reads there: a token created a moment ago must be
  found, and the user's identity is what stickiness is keyed on);
* the client (its user, or its session when anonymous) wrote within ``DB_REPLICA_STICKY_SECONDS`` and no usable
  replica has replayed the primary's WAL up to the position recorded after that write;
* no replica is usable (down, lagging, not probed yet), or the cache that holds the positions is unreachable.

The choice of replica is made once per request, so its reads see one consistent state."""

import hashlib
import logging
from contextvars import ContextVar

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils.functional import SimpleLazyObject, empty

from core.fastpaths.cache import cache_degraded

from . import replicas

logger = logging.getLogger(__name__)

STICKY_KEY_PREFIX = "db-replica:written:"
# The client's identity is not known yet: read from the primary and decide again later.
UNKNOWN = object()


class RequestReads:
    """One request's read routing state (kept in a context variable by the middleware)."""

    __slots__ = ("request", "primary", "wrote", "replica", "failed", "primary_only", "reads")

    def __init__(self, request):
        self.request = request
        # Every read asks whether the primary is in a transaction: keep this thread's connection at hand.
        self.primary = connections[DEFAULT_DB_ALIAS]
        self.wrote = False  # a statement other than a read ran on the primary
        self.replica = None  # the alias chosen for this request's reads, once decided
        self.failed = False  # a replica failed during the request
        self.primary_only = False
        self.reads = {}  # alias → read statements run

    def read_alias(self) -> str:
        if self.primary_only or self.wrote or self.primary.in_atomic_block:
            return DEFAULT_DB_ALIAS
        if self.replica is None:
            chosen = self._choose()
            if chosen is UNKNOWN:
                return DEFAULT_DB_ALIAS
            self.replica = chosen
        return self.replica

    def _choose(self):
        candidates = replicas.usable_aliases()
        if not candidates:
            return DEFAULT_DB_ALIAS
        keys = client_keys(self.request)
        if keys is UNKNOWN:
            return UNKNOWN
        written = written_position(keys)
        if written is UNKNOWN:
            return DEFAULT_DB_ALIAS
        for alias in candidates:
            if not _connected(alias):
                continue
            if written is None or _has_replayed(alias, written):
                return alias
        return DEFAULT_DB_ALIAS


current: ContextVar[RequestReads | None] = ContextVar("replica_reads", default=None)


def read_alias() -> str:
    state = current.get()
    if state is None:
        return DEFAULT_DB_ALIAS
    return state.read_alias()


def client_keys(request) -> list[str] | object:
    """The cache keys of the client's last write: its user's, and its session's (so an anonymous client's
    session is followed too). UNKNOWN while the request's user has not been resolved."""
    user = request.__dict__.get("user")
    if user is None:
        return UNKNOWN
    if isinstance(user, SimpleLazyObject):
        # AuthenticationMiddleware's lazy user: resolving it reads the session, which we must not do here.
        wrapped = user._wrapped
        if wrapped is empty:
            return UNKNOWN
        user = wrapped
    keys = []
    if user.is_authenticated:
        keys.append(f"{STICKY_KEY_PREFIX}user:{user.pk}")
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None) if session is not None else None
    if session_key:
        keys.append(f"{STICKY_KEY_PREFIX}session:{hashlib.sha256(session_key.encode()).hexdigest()[:32]}")
    return keys


def written_position(keys: list[str]):
    """The highest primary position recorded for these keys; None for none; UNKNOWN if the cache is down."""
    if not keys:
        return None
    if len(keys) == 1:  # a token client: one key, one GET (a little cheaper than MGET)
        found = [value] if (value := cache.get(keys[0])) is not None else []
    else:
        found = cache.get_many(keys).values()
    if cache_degraded(cache):
        return UNKNOWN
    return max(found, default=None)


def record_write(request) -> None:
    """After a request that wrote: remember the primary's position for its client, for DB_REPLICA_STICKY_SECONDS.

    ``pg_current_wal_insert_lsn()`` rather than ``pg_current_wal_lsn()``: the insert position is at or past the
    end of every commit record already made, whether or not it is flushed yet (``synchronous_commit=off``)."""
    keys = client_keys(request)
    if keys is UNKNOWN or not keys:
        return
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
            (position,) = cursor.fetchone()
    except DatabaseError:
        logger.warning("Could not read the primary's WAL position after a write", exc_info=True)
        return
    cache.set_many(dict.fromkeys(keys, int(position)), timeout=settings.DB_REPLICA_STICKY_SECONDS)


def _connected(alias: str) -> bool:
    """Connect to the replica now, where a failure can still send the read to the primary."""
    try:
        connections[alias].ensure_connection()
    except DatabaseError as exc:
        replicas.mark_down(alias, exc)
        return False
    return True


def _has_replayed(alias: str, written: int) -> bool:
    known = replicas.status(alias).position
    if known is not None and known >= written:
        return True
    position = replicas.current_position(alias)
    return position is not None and position >= written
