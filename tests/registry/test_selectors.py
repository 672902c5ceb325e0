from datetime import timedelta

import pytest
from django.utils import timezone

from registry import selectors
from registry.choices import BuildType, Priority, Protocol, ServiceStatus

from .factories import DependencyFactory, ServiceFactory, chain

pytestmark = pytest.mark.django_db


@pytest.fixture
def platform():
    """gateway needs router and db; router needs db and cache; db needs disk; reporting needs db."""
    names = ["gateway", "router", "db", "cache", "disk", "reporting", "unrelated"]
    s = {name: ServiceFactory(name=name) for name in names}
    for source, target in [
        ("gateway", "router"),
        ("gateway", "db"),
        ("router", "db"),
        ("router", "cache"),
        ("db", "disk"),
        ("reporting", "db"),
    ]:
        DependencyFactory(service=s[source], depends_on=s[target])
    return s


def names(services):
    return [s.name for s in services]


def test_direct_dependencies_and_dependents(platform):
    assert names(selectors.service_dependencies(service=platform["gateway"])) == ["db", "router"]
    assert names(selectors.service_dependents(service=platform["db"])) == ["gateway", "reporting", "router"]


def test_transitive_dependencies_come_in_start_up_order(platform, django_assert_num_queries):
    with django_assert_num_queries(2):  # the edges, then the services
        order = names(selectors.service_dependencies(service=platform["gateway"], transitive=True))
    assert sorted(order) == ["cache", "db", "disk", "router"]
    # every service starts after everything it needs
    assert order.index("disk") < order.index("db") < order.index("router")
    assert order.index("cache") < order.index("router")


def test_transitive_dependents_are_the_impact(platform):
    impact = names(selectors.service_dependents(service=platform["disk"], transitive=True))
    assert sorted(impact) == ["db", "gateway", "reporting", "router"]
    assert impact.index("db") < impact.index("router") < impact.index("gateway")
    assert names(selectors.service_dependents(service=platform["gateway"], transitive=True)) == []


def test_deleted_services_drop_out_of_the_graph(platform):
    platform["router"].delete()
    assert names(selectors.service_dependencies(service=platform["gateway"], transitive=True)) == ["disk", "db"]
    assert "router" not in names(selectors.service_dependents(service=platform["cache"], transitive=True))


def test_cycle_message_follows_the_shortest_way_back():
    chain("a", "b", "c")
    chain("a", "p", "q", "r", "c")  # a longer way from a to c
    assert selectors.dependency_cycle(service_name="c", depends_on_name="a") == ["c", "a", "b", "c"]
    assert selectors.dependency_cycle(service_name="a", depends_on_name="c") is None


def test_statistics_in_one_query(django_assert_num_queries):
    now = timezone.now()
    ServiceFactory(status=ServiceStatus.HEALTHY, required=True, response_time_ms=100, last_seen=now)
    ServiceFactory(status=ServiceStatus.UNHEALTHY, required=True, response_time_ms=300, last_seen=now)
    ServiceFactory(
        priority=Priority.CRITICAL,
        build_type=BuildType.DOCKER,
        protocol=Protocol.HTTP,
        created_at=now - timedelta(hours=1),
    )
    ServiceFactory(status=ServiceStatus.DISABLED, enabled=False, created_at=now - timedelta(hours=1))
    ServiceFactory().delete()
    with django_assert_num_queries(1):
        stats = selectors.registry_statistics(stale_minutes=10)
    assert stats["total"] == 4
    assert stats["by_status"] == {"healthy": 1, "unhealthy": 1, "unknown": 1, "maintenance": 0, "disabled": 1}
    assert stats["by_build_type"]["docker"] == 1 and stats["by_build_type"]["official"] == 3
    assert stats["by_protocol"] == {"stdio": 3, "http": 1, "websocket": 0, "tcp": 0, "unix_socket": 0}
    assert stats["by_priority"]["critical"] == 1
    assert stats["average_response_time_ms"] == 200.0
    assert stats["required"] == 2
    assert stats["required_not_healthy"] == 1
    assert stats["critical"] == 2  # the unhealthy required one and the critical-priority unknown one
    assert stats["stale"] == 1  # the disabled one is not expected to report
