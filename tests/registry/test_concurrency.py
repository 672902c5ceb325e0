"""Concurrent writers: real threads, each with its own connection. On PostgreSQL they run in
parallel against row locks and the advisory lock; on SQLite the IMMEDIATE transactions queue them."""

import pytest

from core.errors import Invalid
from registry import services
from registry.models import Dependency, Service
from tests.concurrency import errors_of, run_at_once

from .factories import ServiceFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(targets):
    return errors_of(run_at_once(targets, timeout=30))


def test_concurrent_health_reports_lose_no_counts():
    service = ServiceFactory(name="busy")
    reports_per_thread, threads = 15, 8

    def reporter(passing):
        def report():
            for _ in range(reports_per_thread):
                services.service_record_health(service=Service.objects.get(pk=service.pk), passing=passing)

        return report

    errors = run_in_threads([reporter(i % 2 == 0) for i in range(threads)])
    assert errors == []
    service.refresh_from_db()
    assert service.success_count == service.failure_count == reports_per_thread * threads // 2
    assert service.version == 1  # reports are telemetry, not edits
    assert service.consecutive_successes + service.consecutive_failures >= 1


def test_concurrent_heartbeats_and_reports_keep_every_count():
    service = ServiceFactory(name="busy")

    def heartbeats():
        for _ in range(20):
            services.service_heartbeat(names=["busy"])

    def reports():
        for _ in range(20):
            services.service_record_health(service=service, passing=True)

    assert run_in_threads([heartbeats, reports, heartbeats, reports]) == []
    service.refresh_from_db()
    assert service.success_count == 40 and service.last_seen is not None
    assert service.version == 1


def test_concurrent_opposite_dependencies_cannot_both_pass_the_cycle_check():
    a, b, c = ServiceFactory(name="a"), ServiceFactory(name="b"), ServiceFactory(name="c")
    Dependency.objects.create(service=b, depends_on=c)
    # a → b and c → a are each fine alone; together with b → c they close a cycle.
    errors = run_in_threads(
        [
            lambda: services.service_add_dependency(service=a, depends_on=b),
            lambda: services.service_add_dependency(service=c, depends_on=a),
        ]
    )
    assert len(errors) == 1 and isinstance(errors[0], Invalid)
    assert Dependency.objects.count() == 2
