import pytest
from django.urls import reverse

from registry import services
from registry.choices import ServiceStatus
from registry.models import Dependency, Service, Tag

from .factories import ServiceFactory, chain

pytestmark = pytest.mark.django_db


def form_data(service, **overrides):
    data = {
        "name": service.name,
        "display_name": service.display_name,
        "description": service.description,
        "build_type": service.build_type,
        "protocol": service.protocol,
        "priority": service.priority,
        "location": "",
        "endpoint": "",
        "port": "",
        "service_version": service.service_version,
        "metadata": "{}",
        "config": "{}",
        "health_check_url": service.health_check_url,
        "source_url": "",
        "registry_url": "",
        "tags": [],
        "dependencies": [],
    }
    data.update(overrides)
    return data


def change_url(service):
    return reverse("admin:registry_service_change", args=[service.pk])


def test_changelist_filters_by_status_and_tag(admin_client):
    ServiceFactory(name="pg", status=ServiceStatus.UNHEALTHY, tags=["database"])
    ServiceFactory(name="git", tags=["vcs"])
    url = reverse("admin:registry_service_changelist")
    response = admin_client.get(url, {"status__exact": "unhealthy"})
    assert response.status_code == 200
    assert [s.name for s in response.context["cl"].result_list] == ["pg"]
    tag = Service.objects.get(name="git").tags.get()
    response = admin_client.get(url, {"tags__id__exact": tag.pk})
    assert [s.name for s in response.context["cl"].result_list] == ["git"]


def test_dependencies_edited_in_the_admin_refuse_cycles(admin_client):
    s = chain("a", "b", "c")
    response = admin_client.post(change_url(s["c"]), form_data(s["c"], dependencies=[str(s["a"].pk)]))
    assert response.status_code == 200  # the form comes back with the error
    assert "c → a → b → c" in response.content.decode()
    assert not Dependency.objects.filter(service=s["c"]).exists()


def test_dependencies_edited_in_the_admin_are_saved(admin_client):
    s = chain("a", "b")
    cache = ServiceFactory(name="cache")
    response = admin_client.post(change_url(s["a"]), form_data(s["a"], dependencies=[str(cache.pk)]))
    assert response.status_code == 302
    assert list(s["a"].dependencies.values_list("name", flat=True)) == ["cache"]


def test_counters_and_status_are_read_only_in_the_admin(admin_client):
    service = ServiceFactory(name="git", success_count=4)
    admin_client.post(change_url(service), form_data(service, success_count=0, status="healthy"))
    service.refresh_from_db()
    assert (service.success_count, service.status) == (4, ServiceStatus.UNKNOWN)


def run_action(client, action, *services):
    return client.post(
        reverse("admin:registry_service_changelist"),
        {"action": action, "_selected_action": [str(s.pk) for s in services]},
        follow=True,
    )


def test_status_actions(admin_client):
    a, b = ServiceFactory(name="a", status=ServiceStatus.HEALTHY), ServiceFactory(name="b")
    run_action(admin_client, "disable", a, b)
    assert set(Service.objects.values_list("status", "enabled")) == {(ServiceStatus.DISABLED, False)}
    run_action(admin_client, "enable", a)
    run_action(admin_client, "start_maintenance", b)
    assert dict(Service.objects.values_list("name", "status")) == {
        "a": ServiceStatus.UNKNOWN,
        "b": ServiceStatus.MAINTENANCE,
    }
    run_action(admin_client, "end_maintenance", b)
    assert Service.objects.get(name="b").status == ServiceStatus.UNKNOWN


def test_check_now_probes_through_the_same_rules(admin_client, health_server):
    up = ServiceFactory(name="up", health_check_url=f"{health_server}/ok")
    no_url = ServiceFactory(name="no-url")
    for _ in range(2):
        response = run_action(admin_client, "check_now", up, no_url)
    assert "up: HTTP 200, now healthy." in [str(m) for m in response.context["messages"]]
    up.refresh_from_db()
    assert (up.status, up.success_count) == (ServiceStatus.HEALTHY, 2)


def test_adding_a_service_in_the_admin_goes_through_the_service(admin_client):
    db = ServiceFactory(name="db")
    url = reverse("admin:registry_service_add")
    data = form_data(Service(name="App", build_type="custom", protocol="http", priority="high"))
    refused = admin_client.post(url, {**data, "service_version": "v1"})
    assert refused.status_code == 200 and "service_version" in refused.context["adminform"].form.errors
    response = admin_client.post(url, {**data, "name": "app", "dependencies": [str(db.pk)]})
    assert response.status_code == 302, response.context["adminform"].form.errors
    app = Service.objects.get(name="app")
    assert list(app.dependencies.values_list("name", flat=True)) == ["db"]
    assert (app.status, app.enabled, app.created_by.is_superuser) == (ServiceStatus.UNKNOWN, True, True)


def test_telemetry_while_the_admin_form_is_open_does_not_refuse_the_save(admin_client):
    service = ServiceFactory(name="git")
    page = admin_client.get(change_url(service))
    assert page.status_code == 200
    services.service_heartbeat(names=["git"])
    services.service_record_health(service=service, passing=True)
    response = admin_client.post(change_url(service), form_data(service, description="edited", expected_version=1))
    assert response.status_code == 302
    service.refresh_from_db()
    assert service.description == "edited" and service.last_seen is not None and service.success_count == 1


def test_restore_action_refuses_a_dependency_cycle_with_a_message(admin_client):
    s = chain("a", "b", "c")
    s["b"].delete()
    services.service_add_dependency(service=s["c"], depends_on=s["a"])
    response = admin_client.post(
        reverse("admin:registry_service_changelist") + "?deleted=yes",
        {"action": "restore_selected", "_selected_action": [str(s["b"].pk)]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == [
        "b: Cannot restore: its dependencies would form a cycle a → b → c → a."
    ]
    assert Service.all_objects.get(name="b").is_deleted


def test_tags_edited_in_the_admin_are_saved_through_the_service(admin_client):
    service = ServiceFactory(name="git", tags=["vcs"])
    mcp = Tag.objects.create(name="mcp")
    response = admin_client.post(change_url(service), form_data(service, tags=[str(mcp.pk)], priority="low"))
    assert response.status_code == 302
    service.refresh_from_db()
    assert list(service.tags.values_list("name", flat=True)) == ["mcp"]
    assert (service.priority, service.version) == ("low", 2)  # one write


def test_the_admin_form_shows_a_refused_health_check_url_beside_the_field(admin_client):
    service = ServiceFactory(name="git")
    response = admin_client.post(
        change_url(service), form_data(service, health_check_url="http://169.254.169.254/latest/meta-data/")
    )
    assert response.status_code == 200  # the form comes back with the error
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["health_check_url"] and "may not call" in errors["health_check_url"][0]
    service.refresh_from_db()
    assert service.health_check_url == ""
