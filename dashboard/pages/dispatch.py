"""Dispatch: orders by status, today's routes from the hub, fleet utilisation, and how far the
planner's estimates were from what really happened, per planning policy, over time."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts import roles
from logistics import dashboard_selectors, selectors
from logistics.choices import OrderStatus, RouteStatus

from .. import areas, periods
from ..charts import Chart, from_counts
from ..rendering import render_page

# The API's permissions for the same numbers (GET /api/v1/metrics/logistics/ and routes).
PERMISSIONS = ("logistics.view_operationaloutcome", "logistics.view_order", "logistics.view_route")

MEASURE_LABELS = {"cost": "Cost", "duration": "Duration", "distance": "Distance"}
ROUTE_STATUS_LABELS = dict(RouteStatus.choices)


def percent(ratio: float | None) -> str:
    return f"{ratio * 100:.1f}%" if ratio is not None else "–"


def error(value: float | None) -> str:
    return f"{value:.2f}%" if value is not None else "–"


def metrics_for(period: periods.Period) -> dict:
    """The API's metrics for the period's days, read through the API's own parameter rule."""
    return selectors.logistics_metrics(**_bounds(period))


def headline(metrics: dict, routes_today: int | None = None) -> list[dict]:
    fleet, mape = metrics["fleet"], metrics["mape"]
    figures = [
        {"metric": "orders", "label": "Orders", "value": f"{sum(metrics['orders_by_status'].values()):,}"},
        {"metric": "pending", "label": "Pending", "value": f"{metrics['orders_by_status']['pending']:,}"},
        {"metric": "deliveries", "label": "Deliveries", "value": f"{metrics['deliveries']:,}"},
        {"metric": "on_time_rate", "label": "On time", "value": percent(metrics["on_time_rate"])},
        {"metric": "utilisation_now", "label": "Fleet in use now", "value": percent(fleet["utilisation_now"])},
        {
            "metric": "utilisation_in_period",
            "label": "Fleet used in period",
            "value": percent(fleet["utilisation_in_period"]),
        },
        {"metric": "mape_cost", "label": "Cost estimate error", "value": error(mape["cost"])},
        {"metric": "mape_duration", "label": "Duration estimate error", "value": error(mape["duration"])},
        {"metric": "mape_distance", "label": "Distance estimate error", "value": error(mape["distance"])},
    ]
    if routes_today is not None:
        figures.append({"metric": "routes_today", "label": "Routes today", "value": f"{routes_today:,}"})
    return figures


def calibration_charts(by_policy: list[dict]) -> list[Chart]:
    """One chart per estimate (cost, duration, distance): its mean absolute error by day, one
    line per planning policy. Days are those with completed routes."""
    days = sorted({row["day"] for policy in by_policy for row in policy["by_day"]})
    rows = [{row["day"]: row for row in policy["by_day"]} for policy in by_policy]
    return [
        Chart(
            key=f"error-{measure}",
            kind="line",
            title=f"{label} estimate error by day",
            category_label="Day",
            categories=days,
            series=[
                (policy["policy"] or "(no policy)", [by_day[day][measure] if day in by_day else None for day in days])
                for policy, by_day in zip(by_policy, rows, strict=True)
            ],
            unit="%",
            empty_text="No route has been completed in this period.",
        )
        for measure, label in MEASURE_LABELS.items()
    ]


def fleet_chart(fleet: dict) -> Chart:
    available = fleet["vehicles"] - fleet["in_use_now"] - fleet["out_of_service"]
    return Chart(
        key="fleet",
        kind="pie",
        title="Fleet right now",
        category_label="Vehicles",
        categories=["In use", "Available", "Out of service"],
        series=[("Vehicles", [fleet["in_use_now"], available, fleet["out_of_service"]])],
        empty_text="No vehicle in the fleet.",
    )


def route_map(routes: list) -> dict:
    """Today's routes as lines of (longitude, latitude) from the hub through the stops and back."""
    hubs = {}
    lines = []
    for route in routes:
        hub = route.vehicle.home_hub
        hubs[hub.pk] = {"name": hub.name, "lon": hub.longitude, "lat": hub.latitude}
        stops = [
            {"lon": stop.longitude, "lat": stop.latitude, "city": stop.city, "sequence": stop.sequence}
            for stop in route.stops.all()
        ]
        lines.append(
            {
                "reference": route.reference,
                "vehicle": route.vehicle.reference,
                "status": ROUTE_STATUS_LABELS[route.status],
                "hub": {"lon": hub.longitude, "lat": hub.latitude},
                "stops": stops,
            }
        )
    return {"kind": "routes", "title": "Today's routes from the hub", "hubs": list(hubs.values()), "routes": lines}


def dispatch_tile(request) -> dict:
    period = periods.preset(periods.DEFAULT)
    metrics = metrics_for(period)
    routes_today = len(dashboard_selectors.routes_of_day())
    figures = headline(metrics, routes_today)
    shown = {"routes_today", "pending", "utilisation_now", "mape_cost"}
    return {"note": period.label, "figures": [f for f in figures if f["metric"] in shown]}


AREA = areas.register(
    areas.Area(
        key="dispatch",
        title="Dispatch",
        url_name="dashboard:dispatch",
        roles=(roles.DISPATCHER,),
        permissions=PERMISSIONS,
        tile=dispatch_tile,
        description="Orders, today's routes, the fleet, estimates against actuals",
        order=20,
        live_types=("decision.proposed", "decision.committed", "decision.failed", "route.started", "route.completed"),
    )
)


@require_GET
@login_required
def dispatch_page(request):
    area = areas.require(request, AREA.key)
    form, period = periods.from_request(request)
    context = {"area": area, "form": form, "period": period, "presets": _presets(period)}
    status = 200
    if period is None:
        status = 400
    else:
        metrics = metrics_for(period)
        by_policy = dashboard_selectors.error_by_policy(**_bounds(period))
        routes = dashboard_selectors.routes_of_day()
        today = timezone.localdate()
        lower, upper = dashboard_selectors.day_bounds(today)
        context.update(
            metrics=metrics,
            figures=headline(metrics, len(routes)),
            charts=[
                from_counts(
                    "orders-by-status",
                    "bar",
                    "Orders by status (created in the period)",
                    counts=metrics["orders_by_status"],
                    labels=dict(OrderStatus.choices),
                    category_label="Status",
                    series_name="Orders",
                    empty_text="No order was created in this period.",
                ),
                fleet_chart(metrics["fleet"]),
            ],
            calibration=calibration_charts(by_policy),
            by_policy=by_policy,
            routes=routes,
            today=today,
            route_map=route_map(routes),
            api_url=f"{reverse('api:logistics-metrics')}?{period.api_query}",
            routes_api_url=f"{reverse('api:logistics-route-list')}?{_day_query(lower, upper)}",
        )
    return render_page(
        request,
        template="dashboard/dispatch.html",
        fragment="dashboard/dispatch_body.html",
        context=context,
        area=area,
        status=status,
    )


def _bounds(period: periods.Period) -> dict:
    start, end = selectors.parse_range(period.start.isoformat(), period.end.isoformat())
    return {"start": start, "end": end}


def _day_query(lower, upper) -> str:
    """The API's route filter for the same day (``start_to`` is inclusive, hence a moment before)."""
    last = upper - timedelta(microseconds=1)
    return urlencode({"start_from": lower.isoformat(), "start_to": last.isoformat()})


def _presets(period):
    base = reverse("dashboard:dispatch")
    return [
        {"key": key, "label": label, "url": f"{base}?period={key}", "active": period is not None and period.key == key}
        for key, (label, _) in periods.PRESETS.items()
    ]
