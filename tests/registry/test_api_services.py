from datetime import timedelta

import pytest
from django.utils import timezone

from registry.choices import ServiceStatus
from registry.models import Service

from .factories import ServiceFactory, chain

pytestmark = pytest.mark.django_db

URL = "/api/v1/registry/services/"


def detail(name):
    return f"{URL}{name}/"


@pytest.fixture
def operator(registry_operator_client):
    return registry_operator_client


# --- CRUD and permissions ------------------------------------------------------------------


def test_operator_registers_a_service_with_tags(operator):
    response = operator.post(
        URL,
        {
            "name": "brave-search",
            "display_name": "Brave Search",
            "build_type": "official",
            "protocol": "stdio",
            "priority": "high",
            "service_version": "0.6.2",
            "tags": ["Search", "web", "web"],
            "metadata": {"token_env": "BRAVE_API_KEY"},
            "health_check_url": "http://localhost:8080/health",
            "port": 8080,
        },
    )
    assert response.status_code == 201, response.data
    body = response.data
    assert body["name"] == "brave-search"
    assert body["tags"] == ["search", "web"]
    assert body["status"] == "unknown"
    assert body["version"] == 1
    assert body["created_by"] == operator.user.username
    assert (body["health_score"], body["is_healthy"], body["is_critical"], body["is_stale"]) == (
        None,
        False,
        False,
        False,
    )
    assert operator.get(detail("brave-search")).data["id"] == body["id"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("service_version", "1.2"),
        ("service_version", "v1.2.3"),
        ("port", 0),
        ("port", 65536),
        ("name", "Not A Slug"),
        ("tags", ["has space"]),
        ("tags", ["a,b"]),
        ("health_check_url", "ftp://localhost/health"),
        ("metadata", ["not", "an", "object"]),
        ("description", "nul\x00byte"),
        ("status", "healthy"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field(operator, field, value):
    response = operator.post(URL, {"name": "svc", field: value} if field != "name" else {"name": value})
    assert response.status_code == 400, response.data
    assert field in response.data["fields"]
    assert not Service.objects.exists()


def test_duplicate_live_name_is_a_400_and_a_deleted_name_can_be_reused(operator):
    ServiceFactory(name="git")
    response = operator.post(URL, {"name": "git"})
    assert response.status_code == 400
    assert "name" in response.data["fields"]
    assert operator.delete(detail("git")).status_code == 204
    assert operator.post(URL, {"name": "git"}).status_code == 201


def test_restore_picks_the_deleted_row_and_refuses_while_the_name_is_taken(operator):
    old = ServiceFactory(name="git")
    old.delete()
    ServiceFactory(name="git")
    response = operator.post(detail("git") + "restore/")
    assert response.status_code == 409 and "Cannot restore" in response.data["detail"]
    Service.objects.get(name="git").delete()
    response = operator.post(detail("git") + "restore/")
    assert response.status_code == 200, response.data
    # the most recently deleted row came back
    assert Service.objects.get(name="git").pk != old.pk


def test_readers_read_but_cannot_write(reader_client, member_client):
    ServiceFactory(name="git")
    assert reader_client.get(URL).status_code == 200
    assert reader_client.get(detail("git")).status_code == 200
    assert reader_client.post(URL, {"name": "x"}).status_code == 403
    assert reader_client.patch(detail("git"), {"description": "x"}).status_code == 403
    assert reader_client.post(detail("git") + "health/", {"status": "passing"}).status_code == 403
    assert reader_client.post("/api/v1/registry/heartbeat/", {"names": ["git"]}).status_code == 403
    assert member_client.get(detail("git")).status_code == 403
    assert member_client.post(detail("git") + "dependencies/", {"name": "x"}).status_code == 403


def test_roles_without_registry_access_are_refused(sales_agent_client, api_client):
    assert sales_agent_client.get(URL).status_code == 403
    assert api_client.get(URL).status_code == 401


def test_manager_has_full_access(manager_client):
    assert manager_client.post(URL, {"name": "git"}).status_code == 201
    assert manager_client.post(detail("git") + "health/", {"status": "passing"}).status_code == 200


def test_stale_version_is_a_409(operator):
    ServiceFactory(name="git")
    version = operator.get(detail("git")).data["version"]
    assert operator.patch(detail("git"), {"description": "one", "version": version}).status_code == 200
    response = operator.patch(detail("git"), {"description": "two", "version": version})
    assert response.status_code == 409
    assert response.data["code"] == "stale_version"


def test_patch_keeps_counters_and_replaces_tags(operator):
    service = ServiceFactory(name="git", tags=["vcs", "mcp"], success_count=5)
    response = operator.patch(detail("git"), {"tags": ["vcs"], "success_count": 0, "priority": "low"})
    assert response.status_code == 200
    assert response.data["tags"] == ["vcs"]
    assert response.data["success_count"] == 5  # read-only
    service.refresh_from_db()
    assert service.priority == "low"


def test_operator_disables_and_puts_in_maintenance_through_the_api(operator):
    ServiceFactory(name="git", status=ServiceStatus.HEALTHY)
    response = operator.patch(detail("git"), {"enabled": False})
    assert (response.data["enabled"], response.data["status"]) == (False, "disabled")
    response = operator.patch(detail("git"), {"status": "maintenance"})
    assert (response.data["enabled"], response.data["status"]) == (True, "maintenance")
    response = operator.patch(detail("git"), {"status": "maintenance", "enabled": False})
    assert response.status_code == 400


# --- list, filters, query counts -----------------------------------------------------------


def list_names(client, query=""):
    response = client.get(URL + query)
    assert response.status_code == 200, response.data
    return [item["name"] for item in response.data["results"]]


def test_list_query_count_does_not_grow_with_rows(operator, django_assert_num_queries):
    def make(n):
        for _ in range(n):
            service = ServiceFactory(tags=["mcp", "web"])
            chain(service.name, ServiceFactory().name)

    make(2)
    operator.get(URL)  # warm the runtime-settings cache
    with django_assert_num_queries(8) as small:  # token and permissions (4), count, page, tags, dependencies
        operator.get(URL)
    make(10)
    with django_assert_num_queries(len(small.captured_queries)):
        response = operator.get(URL)
    assert response.data["count"] == 24
    assert any(item["dependencies"] for item in response.data["results"])


def test_filter_by_tags_all_and_any(operator):
    ServiceFactory(name="brave", tags=["search", "web"])
    ServiceFactory(name="fetch", tags=["web"])
    ServiceFactory(name="docs", tags=["search", "docs"])
    ServiceFactory(name="time", tags=[])
    assert list_names(operator, "?tags=search,web") == ["brave"]
    assert list_names(operator, "?tags=web") == ["brave", "fetch"]
    assert list_names(operator, "?tags_any=web,docs") == ["brave", "docs", "fetch"]
    assert list_names(operator, "?tags_any=search,web&tags=docs") == ["docs"]
    assert list_names(operator, "?tags=nope") == []


def test_filter_by_staleness(operator):
    now = timezone.now()
    ServiceFactory(name="quiet", created_at=now - timedelta(hours=2), last_seen=now - timedelta(minutes=45))
    ServiceFactory(name="chatty", created_at=now - timedelta(hours=2), last_seen=now - timedelta(minutes=1))
    ServiceFactory(name="new")
    assert list_names(operator, "?stale_minutes=30") == ["quiet"]
    assert list_names(operator, "?stale_minutes=60") == []
    assert list_names(operator, "?stale_minutes=0") == ["chatty", "new", "quiet"]
    assert operator.get(URL + "?stale_minutes=abc").status_code == 400
    assert operator.get(URL + "?stale_minutes=-1").status_code == 400
    response = operator.get(detail("quiet"))
    assert response.data["is_stale"] is True


def test_filters_by_fields_search_and_priority_ordering(operator):
    ServiceFactory(name="pg", priority="critical", required=True, status=ServiceStatus.UNHEALTHY)
    ServiceFactory(name="git", priority="low", description="Version control for repositories")
    ServiceFactory(name="slack", priority="high", tags=["chat"], protocol="http")
    ServiceFactory(name="old", priority="medium", enabled=False, status=ServiceStatus.DISABLED)
    assert list_names(operator, "?status=unhealthy") == ["pg"]
    assert list_names(operator, "?status=unhealthy&status=disabled") == ["old", "pg"]
    assert list_names(operator, "?required=true") == ["pg"]
    assert list_names(operator, "?enabled=false") == ["old"]
    assert list_names(operator, "?protocol=http") == ["slack"]
    assert list_names(operator, "?q=repositories") == ["git"]
    assert list_names(operator, "?q=chat") == ["slack"]
    assert list_names(operator, "?ordering=priority_rank") == ["pg", "slack", "old", "git"]
    assert list_names(operator, "?ordering=-priority_rank") == ["git", "old", "slack", "pg"]
    assert operator.get(URL + "?status=bogus").status_code == 400
    item = operator.get(detail("pg")).data
    assert item["is_critical"] is True


def test_deleted_services_are_hidden_unless_asked_for(operator, reader_client):
    ServiceFactory(name="gone").delete()
    assert list_names(operator) == []
    assert list_names(operator, "?include_deleted=true") == ["gone"]
    assert list_names(reader_client, "?include_deleted=true") == []
    assert operator.get(detail("gone")).status_code == 404


def test_telemetry_between_read_and_edit_neither_conflicts_nor_is_overwritten(operator):
    ServiceFactory(name="git")
    read = operator.get(detail("git"))
    assert read.status_code == 200
    assert operator.post("/api/v1/registry/heartbeat/", {"names": ["git"]}).status_code == 200
    for _ in range(2):
        assert operator.post(detail("git") + "health/", {"status": "passing", "response_time_ms": 7}).status_code == 200
    response = operator.patch(detail("git"), {"description": "edited", "version": read.data["version"]})
    assert response.status_code == 200, response.data
    body = response.data
    assert body["description"] == "edited" and body["version"] == read.data["version"] + 1
    assert body["last_seen"] is not None and body["last_health_check"] is not None
    assert (body["status"], body["success_count"], body["consecutive_successes"], body["response_time_ms"]) == (
        "healthy",
        2,
        2,
        7,
    )


def test_a_misspelt_field_is_a_400_naming_it_and_registers_nothing(operator):
    response = operator.post(URL, {"name": "git", "is_required": True})
    assert response.status_code == 400
    assert response.json()["fields"] == {"is_required": ["This field is not known to this endpoint."]}
    assert not Service.all_objects.exists()
    assert operator.post(URL, {"name": "git", "required": True}).json()["required"] is True


def test_restoring_into_a_dependency_cycle_is_a_409_naming_it(operator):
    s = chain("a", "b", "c")
    s["b"].delete()
    assert operator.post(f"{URL}c/dependencies/", {"name": "a"}).status_code == 201
    response = operator.post(detail("b") + "restore/")
    assert response.status_code == 409
    assert response.json()["code"] == "dependency_cycle" and "a → b → c → a" in response.json()["detail"]
    assert Service.all_objects.get(name="b").is_deleted


def test_an_edit_sending_back_the_status_it_read_keeps_the_checks_verdict(operator):
    ServiceFactory(name="git", status=ServiceStatus.HEALTHY)
    read = operator.get(detail("git")).data
    for _ in range(3):  # the checks flip it meanwhile
        operator.post(detail("git") + "health/", {"status": "failing"})
    echoed = {name: read[name] for name in ("name", "status", "enabled", "priority")}
    response = operator.patch(detail("git"), {**echoed, "description": "edited", "version": read["version"]})
    assert response.status_code == 200, response.data
    assert (response.data["status"], response.data["description"]) == ("unhealthy", "edited")
    assert operator.patch(detail("git"), {"status": "healthy"}).data["status"] == "unhealthy"
    ServiceFactory(name="new")
    refused = operator.patch(detail("new"), {"status": "healthy"})
    assert refused.status_code == 400 and "status" in refused.json()["fields"]


# --- The health check URL and the outbound guard (core.outbound) -------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5:9200/",
        "http://192.168.1.10/health",
        "http://[fd00::5]/health",
        "http://127.0.0.1:5432/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:5432/",
    ],
)
def test_a_health_check_url_pointing_inside_is_a_400_naming_the_field(operator, settings, url):
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # production's default
    response = operator.post(URL, {"name": "probe", "health_check_url": url})
    assert response.status_code == 400, response.data
    [message] = response.data["fields"]["health_check_url"]
    assert "may not call" in message and "OUTBOUND_ALLOWED_NETWORKS" in message
    assert "127." not in message and "169.254" not in message  # no address echoed back
    assert not Service.objects.exists()


def test_a_name_resolving_inside_or_nowhere_is_refused_at_save(operator, fake_dns):
    fake_dns.update({"intranet.example": ["10.1.2.3"], "nowhere.example": [], "status.example": ["93.184.216.34"]})
    response = operator.post(URL, {"name": "intranet", "health_check_url": "https://intranet.example/health"})
    assert response.status_code == 400 and "may not call" in response.data["fields"]["health_check_url"][0]
    response = operator.post(URL, {"name": "nowhere", "health_check_url": "https://nowhere.example/health"})
    assert response.status_code == 400
    assert response.data["fields"]["health_check_url"] == ["This URL's host name could not be resolved."]
    response = operator.post(URL, {"name": "status", "health_check_url": "https://status.example/health"})
    assert response.status_code == 201, response.data


def test_changing_the_url_is_checked_and_other_edits_do_not_resolve_it(operator, settings, fake_dns):
    fake_dns["status.example"] = ["93.184.216.34"]
    ServiceFactory(name="status", health_check_url="https://status.example/health")
    response = operator.patch(detail("status"), {"health_check_url": "http://169.254.169.254/"})
    assert response.status_code == 400 and "health_check_url" in response.data["fields"]
    # The name now answers nothing, but an edit that leaves the URL alone does not look it up.
    fake_dns["status.example"] = []
    read = operator.get(detail("status")).data
    response = operator.put(detail("status"), {**read, "description": "edited", "tags": []})
    assert response.status_code == 200, response.data
    assert Service.objects.get(name="status").health_check_url == "https://status.example/health"
