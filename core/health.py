"""Liveness and readiness checks, for load balancers and orchestrators."""

import time
import uuid

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from core.fastpaths.cache import OUTAGE_ERRORS

# A check that may answer "degraded": the app serves without it, so readiness stays 200.
DEGRADED = "degraded"
# Parts the app serves without: a lost cache or read replica makes readiness "degraded", still 200.
MAY_DEGRADE = {"cache", "replicas"}


def check_database(alias=DEFAULT_DB_ALIAS) -> dict:
    connection = connections[alias]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    result = {
        "status": "ok",
        "vendor": connection.vendor,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    pool = getattr(connection, "pool", None)
    if pool is not None:
        stats = pool.get_stats()
        result["pool"] = {
            key: stats[key]
            for key in ("pool_min", "pool_max", "pool_size", "pool_available", "requests_waiting")
            if key in stats
        }
    return result


def check_cache() -> dict:
    """A write, read and delete. The platform's Redis backend (``core.fastpaths.cache``) serves
    without Redis, so losing it is "degraded", not a reason to take the app out of service; its
    probe ignores the back-off window, so this check also sees Redis return first."""
    key = f"health:{uuid.uuid4().hex}"
    started = time.perf_counter()
    probe = getattr(cache, "probe", None)
    if probe is None:
        cache.set(key, "ok", 10)
        value = cache.get(key)
        cache.delete(key)
    else:
        try:
            value = probe(key, "ok", 10)
        except OUTAGE_ERRORS as exc:
            # The exception class only: messages can carry hosts or credentials.
            return {"status": DEGRADED, "error": type(exc).__name__, "detail": "serving without the cache"}
    if value != "ok":
        raise RuntimeError("cache did not return the value just written")
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def check_migrations(alias=DEFAULT_DB_ALIAS) -> dict:
    executor = MigrationExecutor(connections[alias])
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return {"status": "failing", "pending": len(pending)}
    return {"status": "ok", "pending": 0}


def check_replicas() -> dict:
    """Each read replica's state and lag (DATABASE_REPLICA_URLS; ok with none configured)."""
    from core.db.replicas import aliases, check_replicas

    return check_replicas() if aliases() else {"status": "ok", "replicas": {}}


CHECKS = {
    "database": check_database,
    "replicas": check_replicas,
    "cache": check_cache,
    "migrations": check_migrations,
}


def run_checks() -> tuple[bool, dict]:
    results = {}
    for name, check in CHECKS.items():
        if name == "migrations" and results.get("database", {}).get("status") != "ok":
            # Without a database it cannot be known; asking would wait out a second timeout.
            results[name] = {"status": "failing", "error": "database unavailable"}
            continue
        try:
            results[name] = check()
        except Exception as exc:  # a failing dependency is a result, not a crash
            # The exception class only: messages can carry hosts or credentials.
            results[name] = {"status": "failing", "error": type(exc).__name__}
    healthy = all(
        result["status"] == "ok" or (result["status"] == DEGRADED and name in MAY_DEGRADE)
        for name, result in results.items()
    )
    return healthy, results
