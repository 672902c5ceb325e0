"""Dependencies, dependents, health reports, heartbeats and statistics over the API."""

import pytest
from django.db import connection

from registry.models import Dependency, Service

from .factories import ServiceFactory, chain

pytestmark = pytest.mark.django_db

URL = "/api/v1/registry/services/"


def deps_url(name, other=None):
    return f"{URL}{name}/dependencies/" + (f"{other}/" if other else "")


@pytest.fixture
def operator(registry_operator_client):
    return registry_operator_client


def test_add_list_and_remove_a_dependency(operator):
    ServiceFactory(name="github")
    ServiceFactory(name="git")
    response = operator.post(deps_url("github"), {"name": "git"})
    assert response.status_code == 201, response.data
    assert response.data["name"] == "git"
    assert operator.post(deps_url("github"), {"name": "git"}).status_code == 200  # already there
    assert [d["name"] for d in operator.get(deps_url("github")).data] == ["git"]
    assert [d["name"] for d in operator.get(f"{URL}git/dependents/").data] == ["github"]
    assert operator.get(f"{URL}github/").data["dependencies"] == ["git"]
    assert operator.delete(deps_url("github", "git")).status_code == 204
    assert operator.delete(deps_url("github", "git")).status_code == 404
    assert not Dependency.objects.exists()


def test_cycle_is_a_400_naming_the_cycle(operator):
    chain("a", "b", "c")
    response = operator.post(deps_url("c"), {"name": "a"})
    assert response.status_code == 400
    assert response.data["code"] == "dependency_cycle"
    assert "c → a → b → c" in response.data["fields"]["name"][0]
    assert Dependency.objects.count() == 2


def test_self_dependency_is_a_400(operator):
    ServiceFactory(name="a")
    response = operator.post(deps_url("a"), {"name": "a"})
    assert response.status_code == 400
    assert response.data["code"] == "self_dependency"


def test_unknown_services_are_404s(operator):
    ServiceFactory(name="a")
    assert operator.post(deps_url("a"), {"name": "nope"}).status_code == 404
    assert operator.post(deps_url("nope"), {"name": "a"}).status_code == 404
    assert operator.delete(deps_url("a", "nope")).status_code == 404
    assert operator.post(deps_url("a"), {}).status_code == 400


def test_transitive_dependencies_in_start_up_order_and_impact(operator, django_assert_num_queries):
    chain("app", "api", "db", "disk")
    chain("app", "cache")
    chain("reports", "db")
    operator.get(deps_url("app"))
    with django_assert_num_queries(7):  # token and permissions (4), service, edges, services
        response = operator.get(deps_url("app") + "?transitive=true")
    order = [d["name"] for d in response.data]
    assert sorted(order) == ["api", "cache", "db", "disk"]
    assert order.index("disk") < order.index("db") < order.index("api")
    impact = [d["name"] for d in operator.get(f"{URL}disk/dependents/?transitive=true").data]
    assert sorted(impact) == ["api", "app", "db", "reports"]
    assert impact.index("db") < impact.index("api") < impact.index("app")
    assert [d["name"] for d in operator.get(f"{URL}disk/dependents/").data] == ["db"]


def test_readers_may_read_the_graph_and_forum_members_may_not(reader_client, member_client):
    chain("app", "db")
    assert reader_client.get(deps_url("app") + "?transitive=true").status_code == 200
    assert reader_client.get(f"{URL}db/dependents/").status_code == 200
    assert reader_client.delete(deps_url("app", "db")).status_code == 403
    assert member_client.get(f"{URL}db/dependents/").status_code == 403


def test_health_reports_flip_after_thresholds(operator):
    ServiceFactory(name="git", status="healthy", required=True)
    url = f"{URL}git/health/"
    for expected in ("healthy", "healthy", "unhealthy"):
        response = operator.post(url, {"status": "failing"})
        assert response.status_code == 200
        assert response.data["status"] == expected
    assert response.data["is_critical"] is True
    response = operator.post(url, {"status": "passing", "response_time_ms": 12})
    assert (response.data["status"], response.data["response_time_ms"]) == ("unhealthy", 12)
    response = operator.post(url, {"status": "passing"})
    assert response.data["status"] == "healthy"
    assert response.data["health_score"] == 0.4
    assert operator.post(url, {"status": "up"}).status_code == 400
    assert operator.post(url, {"status": "passing", "response_time_ms": -1}).status_code == 400


def test_health_report_on_maintenance_keeps_status(operator):
    ServiceFactory(name="git", status="maintenance")
    for _ in range(4):
        response = operator.post(f"{URL}git/health/", {"status": "failing"})
    assert response.data["status"] == "maintenance"
    assert response.data["failure_count"] == 4


def test_heartbeat_answers_unknown_names(operator, django_assert_num_queries):
    for name in ("git", "fetch"):
        ServiceFactory(name=name)
    names = ["git", "fetch", *(f"ghost-{i}" for i in range(1000))]
    # Token and permissions (4), the one UPDATE (on MySQL/MariaDB, a SELECT … FOR UPDATE and the UPDATE).
    with django_assert_num_queries(6 if connection.vendor == "mysql" else 5):
        response = operator.post("/api/v1/registry/heartbeat/", {"names": names})
    assert response.status_code == 200
    assert response.data["seen"] == 2
    assert response.data["unknown"] == [f"ghost-{i}" for i in range(1000)]
    assert not Service.objects.filter(last_seen__isnull=True).exists()


@pytest.mark.parametrize("body", [{}, {"names": []}, {"names": "git"}, {"names": [None]}, {"names": ["x" * 101]}])
def test_heartbeat_refuses_bad_bodies(operator, body):
    assert operator.post("/api/v1/registry/heartbeat/", body).status_code == 400


def test_statistics(operator, reader_client):
    ServiceFactory(status="healthy", required=True, response_time_ms=10)
    ServiceFactory(status="unhealthy", required=True, response_time_ms=30)
    response = reader_client.get("/api/v1/registry/statistics/")
    assert response.status_code == 200
    assert response.data["total"] == 2
    assert response.data["by_status"]["unhealthy"] == 1
    assert response.data["average_response_time_ms"] == 20.0
    assert response.data["required_not_healthy"] == 1
    assert response.data["stale_minutes"] == 10
    assert operator.get("/api/v1/registry/statistics/?stale_minutes=0").data["stale"] == 2
    assert operator.get("/api/v1/registry/statistics/?stale_minutes=x").status_code == 400


def test_statistics_refused_without_registry_access(sales_agent_client):
    assert sales_agent_client.get("/api/v1/registry/statistics/").status_code == 403
