"""Prometheus metrics for operators: request latency by view and database queries per request.

``MetricsMiddleware`` observes every request; ``metrics_view`` serves the text format at
``/metrics`` to a scraper holding ``METRICS_TOKEN`` (``Authorization: Bearer …``) or to a signed-in
staff user, and to nobody else. Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR``
to an empty directory shared by the workers (prometheus_client's multiprocess mode), so a scrape
sums every worker.
"""

import os
import time
from hmac import compare_digest

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request, by view.",
    ["view", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REQUEST_QUERIES = Histogram(
    "http_request_db_queries",
    "Database queries run to answer a request, by view.",
    ["view"],
    buckets=(0, 1, 2, 4, 6, 8, 12, 16, 25, 50, 100),
)
# Counted by core.db.middleware when read replicas are configured (DATABASE_REPLICA_URLS).
DB_READS = Counter("db_reads", "Read statements run by requests, by database alias.", ["database"])


class _QueryCounter:
    __slots__ = ("count",)

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not settings.PROMETHEUS_ENABLED:
            return self.get_response(request)
        counter = _QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name or match.route) if match else "unmatched"
        REQUEST_SECONDS.labels(view, request.method, str(response.status_code)).observe(time.perf_counter() - started)
        REQUEST_QUERIES.labels(view).observe(counter.count)
        return response


def _allowed(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and compare_digest(header[7:].strip(), token):
        return True
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and user.is_staff)


def metrics_view(request):
    if not _allowed(request):
        return JsonResponse(
            {"status": 403, "code": "permission_denied", "detail": "Metrics are for the platform's scraper and staff."},
            status=403,
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
