"""Liveness and readiness checks, for load balancers and orchestrators."""

import time
import uuid

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


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
    key = f"health:{uuid.uuid4().hex}"
    started = time.perf_counter()
    cache.set(key, "ok", 10)
    value = cache.get(key)
    cache.delete(key)
    if value != "ok":
        raise RuntimeError("cache did not return the value just written")
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def check_migrations(alias=DEFAULT_DB_ALIAS) -> dict:
    executor = MigrationExecutor(connections[alias])
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return {"status": "failing", "pending": len(pending)}
    return {"status": "ok", "pending": 0}


CHECKS = {
    "database": check_database,
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
    healthy = all(result["status"] == "ok" for result in results.values())
    return healthy, results
