"""What this process knows of each read replica: up or down, its lag, the WAL position it has replayed.

A daemon thread per process (started by the first request that may read from a replica) probes every replica each
``DB_REPLICA_CHECK_SECONDS``, so a request never waits on a health check: a replica that is down, lagging more
than ``DB_REPLICA_MAX_LAG_SECONDS`` or not probed lately is skipped until a probe finds it well again. A request
that fails to reach a replica marks it down at once (``mark_down``); the next probe may bring it back.

WAL positions are bytes since ``0/0`` (``pg_lsn - '0/0'``), so they compare as integers."""

import logging
import os
import random
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connections

logger = logging.getLogger(__name__)

# The replayed position (a primary's own position, for a server that is not in recovery) and the lag: nothing
# when the replica has replayed all it received (an idle primary sends nothing, which is not lag), else the time
# since the last transaction it replayed was committed on the primary.
PROBE_SQL = """
SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END - '0/0'::pg_lsn,
       CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)
       END
"""
POSITION_SQL = (
    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END - '0/0'::pg_lsn"
)


@dataclass
class ReplicaStatus:
    healthy: bool = False
    position: int | None = None  # WAL bytes replayed
    lag_seconds: float | None = None
    error: str = ""  # the exception class only: messages can carry hosts or credentials
    checked_at: float = 0.0  # time.monotonic() of the observation


_statuses: dict[str, ReplicaStatus] = {}
_lock = threading.Lock()
_checker_pid: int | None = None
_checker_wakeup = threading.Event()


def aliases() -> list[str]:
    return list(settings.DB_REPLICA_ALIASES)


def status(alias: str) -> ReplicaStatus:
    return _statuses.get(alias) or ReplicaStatus()


def usable(alias: str) -> bool:
    """Healthy at the last probe, which was recent, and not lagging more than DB_REPLICA_MAX_LAG_SECONDS.
    A replica never probed yet is not usable: reads go to the primary until the first probe answers."""
    current = status(alias)
    if not current.healthy or current.lag_seconds is None:
        return False
    if time.monotonic() - current.checked_at > _stale_after():
        return False  # the checker is stuck or dead: what it last saw is no longer known
    return current.lag_seconds <= settings.DB_REPLICA_MAX_LAG_SECONDS


def usable_aliases() -> list[str]:
    found = [alias for alias in aliases() if usable(alias)]
    random.shuffle(found)  # spread the reads
    return found


def observe(alias: str, *, position: int | None, lag_seconds: float | None = None) -> None:
    """Record a successful look at ``alias``; without ``lag_seconds``, only its position moves."""
    with _lock:
        previous = _statuses.get(alias) or ReplicaStatus()
        if lag_seconds is None:
            if previous.position is None or (position is not None and position > previous.position):
                _statuses[alias] = ReplicaStatus(
                    previous.healthy, position, previous.lag_seconds, previous.error, previous.checked_at
                )
            return
        if not previous.healthy and previous.checked_at:
            logger.warning("The read replica %s is back in service", alias)
        _statuses[alias] = ReplicaStatus(True, position, float(lag_seconds), "", time.monotonic())


def mark_down(alias: str, error: BaseException | str) -> None:
    name = error if isinstance(error, str) else type(error).__name__
    with _lock:
        previous = _statuses.get(alias) or ReplicaStatus()
        _statuses[alias] = ReplicaStatus(False, previous.position, previous.lag_seconds, name, time.monotonic())
    if previous.healthy or not previous.checked_at:
        logger.warning("The read replica %s is out of service (%s): reads go to the primary", alias, name)


def reset() -> None:
    """Forget every observation (tests)."""
    with _lock:
        _statuses.clear()


def probe(alias: str) -> ReplicaStatus:
    """Ask ``alias`` for its position and lag on this thread's connection, and record the answer."""
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute(PROBE_SQL)
            position, lag = cursor.fetchone()
    except DatabaseError as exc:
        logger.debug("Probing %s failed", alias, exc_info=True)
        mark_down(alias, exc)
    else:
        observe(alias, position=int(position) if position is not None else None, lag_seconds=float(lag))
    return status(alias)


def current_position(alias: str) -> int | None:
    """The position ``alias`` has replayed now (one query on this thread's connection), or None if it cannot
    answer, in which case it is marked down."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(POSITION_SQL)
            (position,) = cursor.fetchone()
    except DatabaseError as exc:
        mark_down(alias, exc)
        return None
    position = int(position) if position is not None else None
    observe(alias, position=position)
    return position


def check_replicas() -> dict:
    """Probe every replica now: for the readiness check. A replica out of service is "degraded", not failing:
    reads go to the primary meanwhile."""
    replicas = {}
    for alias in aliases():
        try:
            current = probe(alias)
        finally:
            connections[alias].close()
        if current.healthy:
            lagging = current.lag_seconds > settings.DB_REPLICA_MAX_LAG_SECONDS
            replicas[alias] = {
                "status": "lagging" if lagging else "ok",
                "lag_seconds": round(current.lag_seconds, 3),
                "replayed_wal_bytes": current.position,
            }
        else:
            replicas[alias] = {"status": "down", "error": current.error}
    healthy = all(entry["status"] == "ok" for entry in replicas.values())
    return {"status": "ok" if healthy else "degraded", "replicas": replicas}


def ensure_checker() -> None:
    """Start this process's checker thread unless it runs (once per process, so again after a fork)."""
    global _checker_pid
    pid = os.getpid()
    if _checker_pid == pid or not aliases() or settings.DB_REPLICA_CHECK_SECONDS <= 0:
        return
    with _lock:
        if _checker_pid == pid:
            return
        _checker_pid = pid
    threading.Thread(target=_check_forever, name="replica-health", daemon=True).start()


def _check_forever() -> None:
    while True:
        for alias in aliases():
            try:
                probe(alias)
            except Exception:  # the checker must outlive any surprise
                logger.exception("Probing the read replica %s failed", alias)
                mark_down(alias, "probe error")
            finally:
                try:
                    connections[alias].close()  # back to the pool; a broken one is dropped
                except Exception:
                    logger.debug("Closing the probe connection to %s failed", alias, exc_info=True)
        _checker_wakeup.wait(settings.DB_REPLICA_CHECK_SECONDS)
        _checker_wakeup.clear()


def _stale_after() -> float:
    if settings.DB_REPLICA_CHECK_SECONDS <= 0:  # no checker: only probes made on purpose (check_replicas, tests)
        return float("inf")
    # A probe of a replica that is down may wait out the pool's timeout (a few seconds) before it answers.
    return 3 * settings.DB_REPLICA_CHECK_SECONDS + 15
