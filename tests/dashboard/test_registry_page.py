import json
import re

import pytest

from accounts import roles
from registry import dashboard_selectors
from registry.models import Service
from tests.registry.factories import DependencyFactory, ServiceFactory

from .conftest import chart_on_page, chart_values, make_registry_data, metrics_on_page

pytestmark = pytest.mark.django_db

PAGE = "/dashboard/registry/"


@pytest.fixture
def operator(signed_in):
    return signed_in(roles.REGISTRY_OPERATOR)


def tiles(html):
    """(service name, state shown) of each tile, in page order."""
    return re.findall(r'data-service="([^"]+)".*?data-state="([^"]+)"', html, re.S)


def graph_on_page(html):
    found = re.search(r'<script id="service-graph-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def test_page_numbers_equal_the_api(operator, registry_data):
    html = operator.get(PAGE).content.decode()
    api = operator.get("/api/v1/registry/statistics/").json()
    shown = metrics_on_page(html)
    assert shown["total"] == str(api["total"]) == "7"
    assert shown["healthy"] == str(api["by_status"]["healthy"]) == "3"
    assert shown["unhealthy"] == str(api["by_status"]["unhealthy"])
    assert shown["maintenance"] == str(api["by_status"]["maintenance"])
    assert shown["disabled"] == str(api["by_status"]["disabled"])
    assert shown["stale"] == str(api["stale"]) == "1"
    assert shown["required_not_healthy"] == str(api["required_not_healthy"]) == "1"
    assert shown["average_response_time_ms"] == f"{api['average_response_time_ms']:.0f} ms"


def test_every_service_is_a_tile_required_first_with_its_state(operator, registry_data):
    html = operator.get(PAGE).content.decode()
    assert tiles(html) == [
        ("gateway", "healthy"),
        ("router", "unhealthy"),
        ("db", "healthy"),  # critical before the medium ones
        ("cache", "stale"),  # healthy when last checked, but not seen for two hours
        ("legacy", "disabled"),
        ("reporting", "unknown"),
        ("disk", "maintenance"),
    ]
    api_names = {row["name"] for row in operator.get("/api/v1/registry/services/").json()["results"]}
    assert {name for name, _ in tiles(html)} == api_names
    assert 'href="/dashboard/registry/services/db/"' in html


def test_response_times_chart(operator, registry_data):
    chart = chart_values(chart_on_page(operator.get(PAGE).content.decode(), "response-times"))
    assert chart == {"router": 900, "gateway": 40, "db": 12, "cache": 3}


def test_a_service_graph_equals_the_api_needs_and_dependents(operator, registry_data):
    response = operator.get("/dashboard/registry/services/router/")
    assert response.status_code == 200
    html = response.content.decode()
    needs = [s["name"] for s in operator.get("/api/v1/registry/services/router/dependencies/?transitive=true").json()]
    needed_by = [s["name"] for s in operator.get("/api/v1/registry/services/router/dependents/?transitive=true").json()]
    assert needs == ["cache", "disk", "db"] and needed_by == ["gateway"]
    shown_needs = re.search(r'data-list="needs">(.*?)</ol>', html, re.S).group(1)
    shown_needed_by = re.search(r'data-list="needed-by">(.*?)</ol>', html, re.S).group(1)
    assert re.findall(r'hx-push-url="true">([^<]+)</a>', shown_needs) == needs
    assert re.findall(r'hx-push-url="true">([^<]+)</a>', shown_needed_by) == needed_by

    graph = graph_on_page(html)
    assert {node["name"] for node in graph["nodes"]} == {"router", *needs, *needed_by}
    assert {(link["source"], link["target"]) for link in graph["links"]} == {
        ("gateway", "router"),
        ("gateway", "db"),
        ("router", "db"),
        ("router", "cache"),
        ("db", "disk"),
    }
    columns = {node["name"]: node["x"] for node in graph["nodes"]}
    assert columns == {"gateway": -1, "router": 0, "db": 1, "cache": 1, "disk": 2}
    states = {node["name"]: node["state"] for node in graph["nodes"]}
    assert states["cache"] == "stale" and states["disk"] == "maintenance"
    # The full page also carries the board, with the chosen tile marked.
    assert tiles(html)[0] == ("gateway", "healthy") and 'data-service="router"' in html
    assert re.search(r'data-service="router"[^>]*aria-current="true"', html, re.S)


def test_a_service_alone_says_so(operator, registry_data):
    html = operator.get("/dashboard/registry/services/legacy/").content.decode()
    assert "legacy needs no other service and no service needs it." in html
    assert "service-graph-data" not in html


def test_htmx_gets_the_graph_panel_or_the_board(operator, registry_data):
    panel = operator.get("/dashboard/registry/services/db/", HTTP_HX_REQUEST="true").content.decode()
    assert panel.lstrip().startswith('<section class="panel panel--graph"') and "<html" not in panel
    assert graph_on_page(panel)["nodes"]
    board = operator.get(PAGE, HTTP_HX_REQUEST="true").content.decode()
    assert board.lstrip().startswith('<div id="registry-board"') and "<html" not in board


def test_unknown_and_deleted_services_are_not_found(operator, registry_data):
    assert operator.get("/dashboard/registry/services/nothing/").status_code == 404
    registry_data["reporting"].delete()
    assert operator.get("/dashboard/registry/services/reporting/").status_code == 404
    assert "reporting" not in dict(tiles(operator.get(PAGE).content.decode()))


def test_board_order_and_states_from_the_selector(registry_data):
    board = dashboard_selectors.service_board(stale_minutes=10)
    assert [s.name for s in board][:2] == ["gateway", "router"]
    assert dashboard_selectors.service_board(stale_minutes=1000)[3].board_state == "healthy"  # cache


def test_pages_take_the_same_number_of_queries_whatever_the_data(operator, django_assert_num_queries):
    make_registry_data(extra=1)
    operator.get(PAGE)  # warms the session and the runtime settings cache
    with django_assert_num_queries(7):
        operator.get(PAGE)
    with django_assert_num_queries(13):
        small = operator.get("/dashboard/registry/services/db/")
    db = Service.objects.get(name="db")
    for n in range(30):
        DependencyFactory(service=ServiceFactory(name=f"more-{n}"), depends_on=db)
    with django_assert_num_queries(7):
        operator.get(PAGE)
    with django_assert_num_queries(13):
        large = operator.get("/dashboard/registry/services/db/")
    assert (
        len(graph_on_page(large.content.decode())["nodes"]) == len(graph_on_page(small.content.decode())["nodes"]) + 30
    )
