"""Registry timings on a real PostgreSQL database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_dev .venv/bin/python bench/registry_bench.py

The database must be migrated. Everything the benchmark writes happens inside one
transaction that is rolled back at the end, so it leaves no rows behind. It times:

* ``service_heartbeat`` for 10,000 names (one UPDATE ... RETURNING);
* ``GET /api/v1/registry/statistics/`` over 10,000 services (one aggregate query);
* ``GET /api/v1/registry/services/?tags=...`` (all-tags filter) and a transitive
  dependency walk over a 10,000-edge graph.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from harness import Rollback  # noqa: E402
from harness import timed as _timed  # noqa: E402
from rest_framework.test import APIRequestFactory, force_authenticate  # noqa: E402

from registry import selectors, services  # noqa: E402
from registry.api.views import ServiceViewSet, StatisticsView  # noqa: E402
from registry.choices import BuildType, Priority, Protocol, ServiceStatus  # noqa: E402
from registry.models import Dependency, Service, Tag  # noqa: E402

COUNT = 10_000


def timed(label, func):
    _timed(label, func, width=58)


def populate():
    statuses, builds, protocols, priorities = (
        ServiceStatus.values[:3],
        BuildType.values,
        Protocol.values,
        Priority.values,
    )
    Service.objects.bulk_create(
        [
            Service(
                name=f"bench-{i:05d}",
                build_type=builds[i % len(builds)],
                protocol=protocols[i % len(protocols)],
                priority=priorities[i % len(priorities)],
                status=statuses[i % len(statuses)],
                required=i % 50 == 0,
                response_time_ms=i % 500,
            )
            for i in range(COUNT)
        ],
        batch_size=2000,
    )
    rows = list(Service.objects.filter(name__startswith="bench-").order_by("name").values_list("pk", flat=True))
    tags = Tag.objects.bulk_create([Tag(name=f"bench-tag-{i}") for i in range(10)])
    through = Service.tags.through
    through.objects.bulk_create(
        [through(service_id=pk, tag_id=tags[(i + k) % 10].pk) for i, pk in enumerate(rows) for k in range(3)],
        batch_size=5000,
    )
    # A layered graph: each service needs the one 100 places before it (chains of depth 100).
    Dependency.objects.bulk_create(
        [Dependency(service_id=rows[i], depends_on_id=rows[i - 100]) for i in range(100, COUNT)], batch_size=5000
    )
    return rows


def main():
    if connection.vendor != "postgresql":
        sys.exit("Run this against PostgreSQL: set DATABASE_URL=postgres://...")
    names = [f"bench-{i:05d}" for i in range(COUNT)]
    factory = APIRequestFactory(HTTP_HOST="localhost")
    try:
        with transaction.atomic():
            populate()
            user = get_user_model().objects.create_superuser("bench-registry", "bench@example.com", "x")
            print(f"PostgreSQL {connection.pg_version // 10000}, {COUNT:,} services, {COUNT - 100:,} dependencies\n")

            timed(f"heartbeat, {COUNT:,} names", lambda: services.service_heartbeat(names=names))
            timed(
                f"heartbeat, {COUNT:,} names of which half unknown",
                lambda: services.service_heartbeat(names=names[::2] + [f"x-{i}" for i in range(COUNT // 2)]),
            )

            def stats():
                request = factory.get("/api/v1/registry/statistics/")
                force_authenticate(request, user=user)
                response = StatisticsView.as_view()(request)
                assert response.status_code == 200 and response.data["total"] >= COUNT

            timed(f"GET statistics/ over {COUNT:,} services", stats)

            list_view = ServiceViewSet.as_view({"get": "list"})

            def tag_search():
                request = factory.get("/api/v1/registry/services/", {"tags": "bench-tag-1,bench-tag-2"})
                force_authenticate(request, user=user)
                response = list_view(request)
                response.render()
                assert response.status_code == 200

            timed("GET services/?tags=a,b (page of 50)", tag_search)
            last = Service.objects.get(name=names[-1])
            timed(
                "transitive dependencies of a service 99 levels deep",
                lambda: selectors.service_dependencies(service=last, transitive=True),
            )
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
