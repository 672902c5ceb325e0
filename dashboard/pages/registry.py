"""The service registry: every service as a status tile, response times, and one service's
dependency graph."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts import roles
from core import runtime
from registry import dashboard_selectors, selectors
from registry.models import Service

from .. import areas
from ..charts import Chart
from ..rendering import render_page, wants_fragment

# The API's permission for the same numbers (GET /api/v1/registry/statistics/ and services).
PERMISSIONS = ("registry.view_service",)

STATE_LABELS = {
    "healthy": "Healthy",
    "unhealthy": "Unhealthy",
    "stale": "Stale",
    "unknown": "Unknown",
    "maintenance": "Maintenance",
    "disabled": "Disabled",
}


def headline(statistics: dict) -> list[dict]:
    average = statistics["average_response_time_ms"]
    return [
        {"metric": "total", "label": "Services", "value": statistics["total"]},
        {"metric": "healthy", "label": "Healthy", "value": statistics["by_status"]["healthy"]},
        {"metric": "unhealthy", "label": "Unhealthy", "value": statistics["by_status"]["unhealthy"]},
        {"metric": "stale", "label": "Stale", "value": statistics["stale"]},
        {"metric": "maintenance", "label": "Maintenance", "value": statistics["by_status"]["maintenance"]},
        {"metric": "disabled", "label": "Disabled", "value": statistics["by_status"]["disabled"]},
        {
            "metric": "required_not_healthy",
            "label": "Required, not healthy",
            "value": statistics["required_not_healthy"],
        },
        {
            "metric": "average_response_time_ms",
            "label": "Average response",
            "value": f"{average:.0f} ms" if average is not None else "–",
        },
    ]


def response_chart(board: list[Service]) -> Chart:
    measured = sorted((s for s in board if s.response_time_ms is not None), key=lambda s: (-s.response_time_ms, s.name))
    return Chart(
        key="response-times",
        kind="hbar",
        title="Last response time per service",
        category_label="Service",
        categories=[s.name for s in measured],
        series=[("Milliseconds", [s.response_time_ms for s in measured])],
        unit=" ms",
        empty_text="No service has reported a response time yet.",
    )


def registry_tile(request) -> dict:
    statistics = selectors.registry_statistics()
    figures = [
        {"metric": "total", "label": "Services", "value": statistics["total"]},
        {"metric": "healthy", "label": "Healthy", "value": statistics["by_status"]["healthy"]},
        {
            "metric": "required_not_healthy",
            "label": "Required, not healthy",
            "value": statistics["required_not_healthy"],
        },
        {"metric": "stale", "label": "Stale", "value": statistics["stale"]},
    ]
    return {"note": "Right now", "figures": figures, "alert": statistics["required_not_healthy"] > 0}


AREA = areas.register(
    areas.Area(
        key="registry",
        title="Service registry",
        url_name="dashboard:registry",
        roles=(roles.REGISTRY_OPERATOR,),
        permissions=PERMISSIONS,
        tile=registry_tile,
        description="Health of every service and what depends on what",
        order=30,
        live_types=(
            "registry.service.registered",
            "registry.service.updated",
            "registry.service.health_changed",
            "registry.service.deregistered",
        ),
    )
)


def _board_context(request) -> dict:
    stale_minutes = runtime.get("REGISTRY_STALE_MINUTES")
    statistics = selectors.registry_statistics(stale_minutes=stale_minutes)
    board = dashboard_selectors.service_board(stale_minutes=stale_minutes)
    for service in board:
        service.board_label = STATE_LABELS[service.board_state]
    return {
        "statistics": statistics,
        "figures": headline(statistics),
        "board": board,
        "state_labels": STATE_LABELS,
        "response_chart": response_chart(board),
        "api_url": reverse("api:registry-statistics"),
    }


def _graph_context(service: Service) -> dict:
    graph = dashboard_selectors.service_graph(service=service)
    payload = {
        "kind": "graph",
        "title": f"Dependencies of {service.name}",
        "nodes": [
            {
                **node,
                "url": reverse("dashboard:registry-service", args=[node["name"]]),
                "stateLabel": STATE_LABELS[node["state"]],
            }
            for node in graph.nodes
        ],
        "links": graph.links,
    }
    selected = next(node for node in graph.nodes if node["selected"])
    return {
        "state_labels": STATE_LABELS,
        "selected_state": selected["state"],
        "selected_state_label": STATE_LABELS[selected["state"]],
        "graph": graph,
        "graph_payload": payload,
        "service_api_url": reverse("api:registry-service-detail", args=[service.name]),
    }


@require_GET
@login_required
def registry_page(request):
    area = areas.require(request, AREA.key)
    return render_page(
        request,
        template="dashboard/registry.html",
        fragment="dashboard/registry_board.html",
        context={"area": area, **_board_context(request)},
        area=area,
    )


@require_GET
@login_required
def service_page(request, name):
    """One service's dependency graph: the panel alone for htmx, else the whole registry page with it open."""
    area = areas.require(request, AREA.key)
    service = Service.objects.filter(name=name).first()
    if service is None:
        raise Http404(f"No service named {name!r}.")
    context = {"area": area, "selected": service, **_graph_context(service)}
    if not wants_fragment(request):
        context.update(_board_context(request))
    return render_page(
        request,
        template="dashboard/registry.html",
        fragment="dashboard/service_graph.html",
        context=context,
        area=area,
    )
