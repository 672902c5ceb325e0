"""Warm a fresh web worker before it takes traffic (gunicorn.conf.py calls ``warm_up()`` once per
worker, after the application is loaded).

A new worker's first requests compile the hot statements (``core.fastpaths.prepared``: the load
search, a load's detail, the reads by key of an offer round and a call logged), resolve the URLconf
and open the database pool: up to ~190 ms on the first request (bench/RESULTS.md). ``warm_up()``
does that work up front, without HTTP (no throttle, metric or log line is spent on it):

* the load search through ``LoadViewSet``'s own filter and pagination code, for a reader with and
  without the ceiling permission, on the query strings the voice agent sends and on a second page,
  so the shapes compiled are exactly those of real requests;
* a load's JSON detail (``get()`` of a load id that does not exist);
* each ``prepared.first()`` read of ``carriers.services`` (``SERVICE_READS``), with keys that match
  no row, so the ``select_for_update()`` ones lock nothing.

Everything runs inside one transaction that is rolled back, reads only, and fails soft: an error is
logged and the worker serves anyway (it compiles on its first requests, as without warming).
tests/deploy/test_warmup.py holds the search's shapes and a real request to them.
"""

import contextlib
import logging
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)

# The load search as clients send it (the voice agent: origin state and equipment; the desk's
# pages add a destination), with the default ordering and page size.
SEARCHES = (
    {},
    {"origin_state": "IL"},
    {"origin_state": "IL", "equipment_type": "dry-van"},
    {"origin_state": "IL", "destination_state": "TX", "equipment_type": "dry-van"},
    {"equipment_type": "dry-van"},
)


class _Reader:
    """Who a warmed search is for: the ceiling column is read only for holders of its permission
    (``LoadListSerializer.columns_for``), so both column sets are compiled. Never saved, never
    authenticated against anything: it only answers ``has_perm``."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    pk = id = None

    def __init__(self, *perms):
        self.perms = frozenset(perms)

    def has_perm(self, perm, obj=None):
        return perm in self.perms


def _service_reads():
    """``(manager, lock, lookups)`` for each ``prepared.first()`` call in ``carriers.services``:
    the lookup names and their order shape the SQL, the values do not (no row has them)."""
    from carriers.models import Call, Carrier, Load, Negotiation

    nothing = uuid.UUID(int=0)
    return (
        (Carrier.objects, False, {"mc_number": "0"}),  # carrier_verify, call_log
        (Load.objects, False, {"load_id": "\x1fwarmup"}),  # offer_make, call_log
        (Load.objects, True, {"pk": nothing}),  # offer_make, the load locked
        (Negotiation.objects, True, {"load_id": nothing, "carrier_id": nothing}),  # offer_make
        (Call.objects, False, {"external_id": "\x1fwarmup"}),  # call_log
    )


def _warm_searches() -> int:
    from django.http import Http404
    from django.test import RequestFactory
    from django.urls import get_resolver
    from rest_framework.pagination import Cursor
    from rest_framework.request import Request

    from carriers.api.serializers import CEILING_PERMISSION
    from carriers.api.views import LoadViewSet
    from core.api.renderers import JSONRenderer

    get_resolver().resolve("/api/v1/loads/")  # builds the URLconf's resolver once
    # A host the settings allow: the pagination builds absolute links from it.
    host = next((name.lstrip(".") for name in settings.ALLOWED_HOSTS if name != "*"), "localhost")
    factory = RequestFactory(HTTP_HOST=host)
    readers = (_Reader("carriers.view_load"), _Reader("carriers.view_load", CEILING_PERMISSION))
    runs = 0

    def view_for(reader, action, query, **kwargs):
        request = Request(factory.get("/api/v1/loads/", query))
        request.user = reader
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
        view = LoadViewSet(action=action, request=request, args=(), kwargs=kwargs, format_kwarg=None)
        view.headers = {}
        return view

    for reader in readers:
        for query in SEARCHES:
            view = view_for(reader, "list", query)
            page = view.paginate_queryset(view.filter_queryset(view.get_queryset()))
            view.get_serializer(page, many=True).data  # noqa: B018 — the serializer's set-up, warmed
            runs += 1
            # The next page: the cursor adds a position filter to the same search.
            paginator = view.paginator  # base_url and ordering set by the page just read
            position = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
            cursor_url = paginator.encode_cursor(Cursor(offset=0, reverse=False, position=position))
            cursor = parse_qs(urlsplit(cursor_url).query)["cursor"][0]
            view = view_for(reader, "list", {**query, "cursor": cursor})
            view.paginate_queryset(view.filter_queryset(view.get_queryset()))
            runs += 1
        view = view_for(reader, "retrieve", {}, load_id="warmup-none")
        with contextlib.suppress(Http404):
            view.get_object()
        runs += 1
    return runs


def _warm_service_reads() -> int:
    from core.fastpaths import prepared

    reads = _service_reads()
    for manager, lock, lookups in reads:
        prepared.first(manager, lock=lock, **lookups)
    return len(reads)


def warm_up(alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Open the database connection and compile the hot statements, reading only, inside a
    transaction that is rolled back. Returns whether it worked; never raises."""
    started = time.perf_counter()
    try:
        with transaction.atomic(using=alias):
            runs = _warm_searches() + _warm_service_reads()
            transaction.set_rollback(True, using=alias)
    except Exception as exc:  # the worker serves anyway; its first requests compile instead
        logger.warning(
            "warm-up failed; the first requests compile their statements",
            exc_info=True,
            extra={"error": type(exc).__name__},
        )
        return False
    finally:
        # Back to the pool: requests run on other threads, each with its own connection. (Not
        # when a caller's transaction is open, as in the tests.)
        connection = connections[alias]
        if not connection.in_atomic_block:
            try:
                connection.close()
            except Exception:  # an unreachable database was already logged above
                logger.debug("closing the warm-up connection failed", exc_info=True)
    logger.info(
        "warm-up done",
        extra={"queries": runs, "duration_ms": round((time.perf_counter() - started) * 1000, 1)},
    )
    return True
