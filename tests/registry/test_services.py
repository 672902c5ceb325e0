import pytest
from django.db import connection

from core import runtime
from core.errors import Conflict, Invalid
from core.models import RuntimeSetting
from core.services import object_restore
from registry import services
from registry.choices import ServiceStatus
from registry.models import Dependency, Service

from .factories import ServiceFactory, chain

pytestmark = pytest.mark.django_db


def report(service, *results):
    for passing in results:
        service = services.service_record_health(service=service, passing=passing)
    return service


# --- flap thresholds -----------------------------------------------------------------------


def test_failures_flip_to_unhealthy_only_after_the_threshold():
    service = ServiceFactory(status=ServiceStatus.HEALTHY)
    service = report(service, False, False)
    assert service.status == ServiceStatus.HEALTHY  # two blips do not flap it
    service = report(service, False)
    assert service.status == ServiceStatus.UNHEALTHY
    assert (service.failure_count, service.consecutive_failures, service.consecutive_successes) == (3, 3, 0)


def test_successes_flip_back_to_healthy_after_the_threshold_and_a_success_resets_the_failure_run():
    service = ServiceFactory(status=ServiceStatus.UNHEALTHY)
    service = report(service, True)
    assert service.status == ServiceStatus.UNHEALTHY
    service = report(service, True)
    assert service.status == ServiceStatus.HEALTHY
    service = report(service, False, False, True, False, False)
    assert service.status == ServiceStatus.HEALTHY  # the run of failures was broken
    assert (service.success_count, service.failure_count) == (3, 4)
    assert service.health_score == round(3 / 7, 4)


def test_new_service_starts_unknown_and_becomes_healthy_after_two_passes():
    service = ServiceFactory()
    assert report(service, True).status == ServiceStatus.UNKNOWN
    assert report(service, True).status == ServiceStatus.HEALTHY


@pytest.mark.parametrize("held", [ServiceStatus.MAINTENANCE, ServiceStatus.DISABLED])
def test_maintenance_and_disabled_keep_their_status_but_count_results(held):
    service = ServiceFactory(status=held, enabled=held != ServiceStatus.DISABLED)
    service = report(service, False, False, False, False, True, True, True)
    assert service.status == held
    assert (service.success_count, service.failure_count) == (3, 4)


def test_thresholds_are_runtime_settings():
    RuntimeSetting.objects.create(key="REGISTRY_FAILURES_BEFORE_UNHEALTHY", value=1)
    runtime.clear_cache()
    assert report(ServiceFactory(status=ServiceStatus.HEALTHY), False).status == ServiceStatus.UNHEALTHY


def test_health_report_keeps_version_and_records_response_time_and_status_flips_in_history():
    service = ServiceFactory()
    version = service.version
    service = services.service_record_health(service=service, passing=True, response_time_ms=42)
    assert service.version == version  # telemetry: an operator's pending edit stays valid
    assert service.response_time_ms == 42
    assert service.last_health_check is not None
    service = services.service_record_health(service=service, passing=True)
    assert service.response_time_ms == 42  # no answer time given: the last one stays
    flip = service.history.order_by("-history_date").first()
    assert flip.status == ServiceStatus.HEALTHY
    assert flip.history_change_reason == "health checks: unknown → healthy"


# --- operator status changes ---------------------------------------------------------------


def test_disabling_and_enabling_keep_flag_and_status_in_step():
    service = report(ServiceFactory(), True, True)
    service = services.service_set_enabled(service=service, enabled=False)
    assert (service.enabled, service.status) == (False, ServiceStatus.DISABLED)
    service = services.service_set_enabled(service=service, enabled=True)
    assert (service.enabled, service.status) == (True, ServiceStatus.UNKNOWN)
    assert service.consecutive_successes == 0  # the next checks decide afresh


def test_maintenance_in_and_out():
    service = ServiceFactory(status=ServiceStatus.HEALTHY)
    service = services.service_set_maintenance(service=service, maintenance=True)
    assert service.status == ServiceStatus.MAINTENANCE
    service = services.service_set_maintenance(service=service, maintenance=False)
    assert service.status == ServiceStatus.UNKNOWN


def test_operators_cannot_set_health_statuses_by_hand():
    service = ServiceFactory()
    with pytest.raises(Invalid) as exc:
        services.service_update(service=service, status=ServiceStatus.HEALTHY)
    assert "status" in exc.value.fields
    with pytest.raises(Invalid):
        services.service_create(name="x", status=ServiceStatus.UNHEALTHY)
    with pytest.raises(Invalid) as exc:
        services.service_create(name="y", status=ServiceStatus.DISABLED, enabled=True)
    assert "enabled" in exc.value.fields
    assert not Service.objects.filter(name__in=["x", "y"]).exists()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"enabled": False}, (False, ServiceStatus.DISABLED)),
        ({"status": ServiceStatus.DISABLED}, (False, ServiceStatus.DISABLED)),
        ({"status": ServiceStatus.MAINTENANCE}, (True, ServiceStatus.MAINTENANCE)),
        ({}, (True, ServiceStatus.UNKNOWN)),
    ],
)
def test_new_services_follow_the_same_status_rules(fields, expected):
    service = services.service_create(name="new", **fields)
    assert (service.enabled, service.status) == expected


# --- heartbeats ----------------------------------------------------------------------------


def test_heartbeat_for_a_thousand_names_is_one_query(django_assert_num_queries):
    for i in range(0, 1000, 2):
        ServiceFactory(name=f"svc-{i:04d}")
    names = [f"svc-{i:04d}" for i in range(1000)]
    # MySQL and MariaDB have no UPDATE … RETURNING: there the rows are locked and read, then updated.
    with django_assert_num_queries(2 if connection.vendor == "mysql" else 1):
        result = services.service_heartbeat(names=names)
    assert len(result.seen) == 500
    assert result.unknown == [f"svc-{i:04d}" for i in range(1, 1000, 2)]
    assert not Service.objects.filter(last_seen__isnull=True).exists()


def test_heartbeat_ignores_deleted_services_and_duplicates():
    live, gone = ServiceFactory(name="live"), ServiceFactory(name="gone")
    gone.delete()
    version = live.version
    result = services.service_heartbeat(names=["live", "gone", "live"])
    assert (result.seen, result.unknown) == (["live"], ["gone"])
    live.refresh_from_db()
    gone.refresh_from_db()
    assert live.last_seen is not None and live.version == version  # telemetry keeps the version
    assert gone.last_seen is None


# --- dependency graph ----------------------------------------------------------------------


def test_direct_cycle_is_refused_and_named():
    s = chain("a", "b")
    with pytest.raises(Invalid) as exc:
        services.service_add_dependency(service=s["b"], depends_on=s["a"])
    assert "b → a → b" in exc.value.fields["name"][0]
    assert exc.value.code == "dependency_cycle"


def test_long_cycle_is_refused_and_named_in_order():
    s = chain("a", "b", "c", "d", "e")
    with pytest.raises(Invalid) as exc:
        services.service_add_dependency(service=s["e"], depends_on=s["a"])
    assert "e → a → b → c → d → e" in exc.value.fields["name"][0]
    assert not Dependency.objects.filter(service=s["e"]).exists()


def test_self_dependency_is_refused():
    service = ServiceFactory(name="solo")
    with pytest.raises(Invalid) as exc:
        services.service_add_dependency(service=service, depends_on=service)
    assert exc.value.code == "self_dependency"
    assert "solo → solo" in exc.value.fields["name"][0]


def test_diamond_is_not_a_cycle_and_adding_twice_is_harmless():
    s = chain("app", "db")
    cache = ServiceFactory(name="cache")
    assert services.service_add_dependency(service=s["app"], depends_on=cache)[1] is True
    assert services.service_add_dependency(service=cache, depends_on=s["db"])[1] is True
    assert services.service_add_dependency(service=cache, depends_on=s["db"])[1] is False
    assert Dependency.objects.count() == 3


def test_deleted_services_do_not_block_new_edges_but_restoring_into_a_cycle_is_refused():
    s = chain("a", "b", "c")
    s["b"].delete()
    services.service_add_dependency(service=s["c"], depends_on=s["a"])  # a → b is gone with b
    b = Service.all_objects.get(pk=s["b"].pk)
    with pytest.raises(Conflict, match="a → b → c → a"):
        object_restore(instance=b)
    assert Service.all_objects.get(pk=b.pk).is_deleted
    # Bulk restore goes through the same rule.
    with pytest.raises(Conflict, match="cycle"):
        Service.all_objects.filter(pk=b.pk).restore()
    assert Service.all_objects.get(pk=b.pk).is_deleted


def test_set_dependencies_adds_and_removes_through_the_same_rules():
    s = chain("app", "db")
    cache, queue = ServiceFactory(name="cache"), ServiceFactory(name="queue")
    services.service_set_dependencies(service=s["app"], depends_on=[cache, queue])
    assert sorted(s["app"].dependencies.values_list("name", flat=True)) == ["cache", "queue"]
    assert not s["app"].dependencies.filter(name="db").exists()
    services.service_add_dependency(service=cache, depends_on=s["db"])
    with pytest.raises(Invalid) as exc:
        services.service_set_dependencies(service=s["db"], depends_on=[s["app"]])
    assert exc.value.fields == {
        "dependencies": ["db cannot depend on app: that would create a cycle db → app → cache → db."]
    }


def test_a_save_from_a_copy_read_before_telemetry_keeps_the_telemetry():
    service = ServiceFactory(name="git")
    stale = Service.objects.get(pk=service.pk)
    services.service_heartbeat(names=["git"])
    services.service_record_health(service=service, passing=False, response_time_ms=9)
    stale.description = "edited"
    stale.save()  # no conflict: telemetry did not change the version
    service.refresh_from_db()
    assert service.description == "edited" and service.last_seen is not None
    assert (service.failure_count, service.consecutive_failures, service.response_time_ms) == (1, 1, 9)
    assert service.last_health_check is not None


def test_sending_a_service_back_to_unknown_starts_the_check_runs_over():
    service = report(ServiceFactory(name="git"), True, True)
    service = services.service_set_maintenance(service=service, maintenance=True)
    service = services.service_set_maintenance(service=service, maintenance=False)
    service.refresh_from_db()
    assert (service.status, service.consecutive_successes, service.success_count) == (ServiceStatus.UNKNOWN, 0, 2)
