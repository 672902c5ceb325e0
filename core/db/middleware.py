"""Lets a request read from the read replicas (``core.db.reads``), and keeps its client reading its own writes.

Not used (``MiddlewareNotUsed``) without DATABASE_REPLICA_URLS. With replicas, each request

* runs with an execute wrapper on the primary that notes the first statement that is not a read (cheap: a
  prefix test per statement; no query), and wrappers on the replicas that count reads and note a failure;
* after a write, asks the primary for its WAL position (one query, for requests that wrote only) and keeps it in
  the cache for the client (``reads.record_write``);
* answered 5xx after a replica failed under it, and having written nothing (a GET, HEAD or OPTIONS), is run once
  more reading from the primary only, so losing a replica between two health probes costs no request.

Reads are counted per database in ``db_reads_total`` (core.metrics)."""

import functools
import logging
from contextlib import ExitStack

from django.core.exceptions import MiddlewareNotUsed
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

from core.metrics import DB_READS

from . import reads, replicas

logger = logging.getLogger(__name__)

# Statements that change nothing: reads, and the transaction control Django runs around them.
READ_PREFIXES = ("SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK", "SET ", "SHOW", "FETCH", "CLOSE", "DECLARE")
RETRIED_METHODS = ("GET", "HEAD", "OPTIONS")


def is_read(sql: str) -> bool:
    return sql.lstrip()[:9].upper().startswith(READ_PREFIXES)


class ReplicaMiddleware:
    def __init__(self, get_response):
        if not replicas.aliases():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        replicas.ensure_checker()
        state = reads.RequestReads(request)
        token = reads.current.set(state)
        try:
            with ExitStack() as wrappers:
                wrappers.enter_context(state.primary.execute_wrapper(_PrimaryWatch(state)))
                for alias in replicas.aliases():
                    wrappers.enter_context(connections[alias].execute_wrapper(_ReplicaWatch(state, alias)))
                response = self.get_response(request)
                if _retry_on_primary(state, request, response):
                    logger.warning(
                        "A read replica failed under %s %s: answered from the primary", request.method, request.path
                    )
                    response.close()
                    state.primary_only = True
                    response = self.get_response(request)
            if state.wrote:
                reads.record_write(request)
        finally:
            reads.current.reset(token)
            for alias, count in state.reads.items():
                _read_counter(alias).inc(count)
        return response


@functools.cache
def _read_counter(alias: str):
    return DB_READS.labels(alias)


def _retry_on_primary(state, request, response) -> bool:
    return state.failed and not state.wrote and request.method in RETRIED_METHODS and response.status_code >= 500


class _PrimaryWatch:
    __slots__ = ("state",)

    def __init__(self, state):
        self.state = state

    def __call__(self, execute, sql, params, many, context):
        state = self.state
        if is_read(sql):
            state.reads[DEFAULT_DB_ALIAS] = state.reads.get(DEFAULT_DB_ALIAS, 0) + 1
        else:
            state.wrote = True
        return execute(sql, params, many, context)


class _ReplicaWatch:
    __slots__ = ("state", "alias")

    def __init__(self, state, alias):
        self.state = state
        self.alias = alias

    def __call__(self, execute, sql, params, many, context):
        state = self.state
        state.reads[self.alias] = state.reads.get(self.alias, 0) + 1
        try:
            return execute(sql, params, many, context)
        except (OperationalError, InterfaceError) as exc:
            state.failed = True
            raw = context["connection"].connection
            if raw is None or raw.closed or getattr(raw, "broken", False):
                replicas.mark_down(self.alias, exc)
            raise
