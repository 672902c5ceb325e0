"""The carrier sales desk: calls, bookings and negotiations over a period."""

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts import roles
from carriers import dashboard_selectors, selectors
from carriers.choices import CallOutcome, EquipmentType, IneligibilityReason, Sentiment

from .. import areas, periods
from ..charts import Chart, from_counts
from ..rendering import render_page

# The API's permissions for the same numbers (GET /api/v1/metrics/carrier-sales/).
PERMISSIONS = ("carriers.view_call", "carriers.view_load")


def percent(ratio: float) -> str:
    return f"{ratio * 100:.1f}%"


def money(amount) -> str:
    return f"${Decimal(amount):,.2f}"


def headline(metrics: dict, open_total: int | None = None) -> list[dict]:
    premium = metrics["average_premium_pct"]
    rounds = metrics["average_rounds_to_agreement"]
    figures = [
        {"metric": "total_calls", "label": "Calls", "value": f"{metrics['total_calls']:,}"},
        {"metric": "booked_calls", "label": "Booked", "value": f"{metrics['booked_calls']:,}"},
        {"metric": "booking_rate", "label": "Booking rate", "value": percent(metrics["booking_rate"])},
        {"metric": "agreements", "label": "Rates agreed", "value": f"{metrics['agreements']:,}"},
        {
            "metric": "average_rounds_to_agreement",
            "label": "Rounds to agreement",
            "value": f"{rounds:.2f}" if rounds is not None else "–",
        },
        {
            "metric": "average_premium_pct",
            "label": "Premium over posted rate",
            "value": f"{premium:+.2f}%" if premium is not None else "–",
        },
        {"metric": "booked_value", "label": "Agreed value", "value": money(metrics["booked_value"])},
    ]
    if open_total is not None:
        figures.append({"metric": "open_negotiations", "label": "Open negotiations", "value": f"{open_total:,}"})
    return figures


def charts(metrics: dict, funnel: list[dict], period: periods.Period) -> list[Chart]:
    by_day = {row["date"]: row for row in metrics["calls_per_day"]}
    days = [period.start + timedelta(days=i) for i in range(period.days)]
    per_day = Chart(
        key="calls-per-day",
        kind="bar-line",
        title="Calls per day",
        category_label="Day",
        categories=[day.isoformat() for day in days],
        series=[
            ("Calls", [by_day[day]["calls"] if day in by_day else 0 for day in days]),
            ("Booked", [by_day[day]["booked"] if day in by_day else 0 for day in days]),
        ],
        empty_text="No calls in this period.",
    )
    return [
        Chart(
            key="funnel",
            kind="funnel",
            title="From call to booking",
            category_label="Step",
            categories=[stage["label"] for stage in funnel],
            series=[("Calls", [stage["count"] for stage in funnel])],
            empty_text="No calls in this period.",
        ),
        per_day,
        from_counts(
            "outcomes",
            "hbar",
            "Call outcomes",
            counts=metrics["outcomes"],
            labels=dict(CallOutcome.choices),
            category_label="Outcome",
            series_name="Calls",
            empty_text="No calls in this period.",
        ),
        from_counts(
            "sentiments",
            "pie",
            "Carrier sentiment",
            counts=metrics["sentiments"],
            labels=dict(Sentiment.choices),
            category_label="Sentiment",
            series_name="Calls",
            empty_text="No calls in this period.",
        ),
        from_counts(
            "verification-failures",
            "hbar",
            "Verification failures by reason",
            counts=metrics["verification_failures"],
            labels=dict(IneligibilityReason.choices),
            category_label="Reason",
            series_name="Calls",
            empty_text="No carrier failed verification in this period.",
        ),
        from_counts(
            "equipment",
            "bar",
            "Calls by equipment asked for",
            counts=metrics["equipment_demand"],
            labels=dict(EquipmentType.choices),
            category_label="Equipment",
            series_name="Calls",
            empty_text="No calls about a load in this period.",
        ),
    ]


def sales_tile(request) -> dict:
    period = periods.preset(periods.DEFAULT)
    metrics = selectors.carrier_sales_metrics(start=period.start, end=period.end)
    open_total, _ = dashboard_selectors.open_negotiations(limit=0)
    figures = headline(metrics, open_total)
    shown = {"total_calls", "booking_rate", "booked_value", "open_negotiations"}
    return {"note": period.label, "figures": [f for f in figures if f["metric"] in shown]}


AREA = areas.register(
    areas.Area(
        key="sales",
        title="Sales desk",
        url_name="dashboard:sales",
        roles=(roles.SALES_AGENT,),
        permissions=PERMISSIONS,
        tile=sales_tile,
        description="Calls, bookings, negotiations",
        order=10,
        live_types=(
            "load.posted",
            "load.booked",
            "load.status_changed",
            "negotiation.closed",
            "call.logged",
            "follow_up.due",
        ),
    )
)


@require_GET
@login_required
def sales_page(request):
    area = areas.require(request, AREA.key)
    form, period = periods.from_request(request)
    context = {"area": area, "form": form, "period": period, "presets": _presets(request, period)}
    status = 200
    if period is None:
        status = 400
    else:
        metrics = selectors.carrier_sales_metrics(start=period.start, end=period.end)
        funnel = dashboard_selectors.sales_funnel(start=period.start, end=period.end)
        open_total, negotiations = dashboard_selectors.open_negotiations()
        context.update(
            metrics=metrics,
            figures=headline(metrics, open_total),
            charts=charts(metrics, funnel, period),
            funnel=funnel,
            open_total=open_total,
            negotiations=negotiations,
            api_url=f"{reverse('api:carrier-sales-metrics')}?{period.api_query}",
            calls_api_url=reverse("api:call-list"),
        )
    return render_page(
        request,
        template="dashboard/sales.html",
        fragment="dashboard/sales_body.html",
        context=context,
        area=area,
        status=status,
    )


def _presets(request, period):
    base = reverse("dashboard:sales")
    return [
        {"key": key, "label": label, "url": f"{base}?period={key}", "active": period is not None and period.key == key}
        for key, (label, _) in periods.PRESETS.items()
    ]
