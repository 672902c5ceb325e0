"""Reads of dispatch that are more than a filter."""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils import timezone

from core.api.dates import check_day
from core.errors import Invalid

from .choices import OrderStatus, RouteStatus, VehicleStatus
from .models import OperationalOutcome, Order, Route, Vehicle


def parse_range(raw_from: str | None, raw_to: str | None) -> tuple[datetime | None, datetime | None]:
    """``from``/``to`` as dates (whole days, both included) or ISO date-times, within the range
    every period takes (``core.api.dates``: beyond it the day arithmetic overflows)."""
    errors = {}
    bounds = []
    for name, raw, is_end in (("from", raw_from, False), ("to", raw_to, True)):
        if raw in (None, ""):
            bounds.append(None)
            continue
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            try:
                value = datetime.fromisoformat(raw)
            except ValueError:
                errors[name] = ["Enter a date (YYYY-MM-DD) or an ISO date-time."]
                bounds.append(None)
                continue
        try:
            check_day(value)
        except ValidationError as exc:
            errors[name] = exc.messages
            bounds.append(None)
            continue
        if isinstance(value, datetime):
            bounds.append(value if timezone.is_aware(value) else timezone.make_aware(value))
            continue
        day = value
        tz = timezone.get_current_timezone()
        bounds.append(datetime.combine(day + timedelta(days=1) if is_end else day, time.min, tzinfo=tz))
    if errors:
        raise Invalid(errors)
    start, end = bounds
    if start and end and end <= start:
        raise Invalid({"to": ["Must be after from."]})
    return start, end


def _mape(values: list[float]) -> float | None:
    return round(sum(abs(v) for v in values) / len(values), 2) if values else None


def _in(start, end, field: str) -> Q:
    q = Q()
    if start:
        q &= Q(**{f"{field}__gte": start})
    if end:
        q &= Q(**{f"{field}__lt": end})
    return q


def logistics_metrics(*, start: datetime | None = None, end: datetime | None = None) -> dict:
    orders = Order.objects.filter(_in(start, end, "created_at"))
    by_status = {s: 0 for s in OrderStatus.values}
    for row in orders.order_by().values("status").annotate(n=Count("id")):
        by_status[row["status"]] = row["n"]

    rows = list(
        OperationalOutcome.objects.filter(_in(start, end, "created_at"))
        .order_by("created_at")
        .values_list(
            "created_at",
            "cost_error_pct",
            "duration_error_pct",
            "distance_error_pct",
            "on_time_count",
            "late_count",
            "failed_count",
        )
    )
    on_time = sum(r[4] for r in rows)
    delivered_or_failed = sum(r[4] + r[5] + r[6] for r in rows)
    daily = defaultdict(lambda: ([], [], []))
    for created, cost, duration, distance, *_ in rows:
        bucket = daily[timezone.localtime(created).date().isoformat()]
        bucket[0].append(cost)
        bucket[1].append(duration)
        bucket[2].append(distance)

    fleet = Vehicle.objects.order_by().aggregate(
        total=Count("id"),
        in_use=Count("id", filter=Q(status__in=(VehicleStatus.LOADING, VehicleStatus.IN_TRANSIT))),
        out_of_service=Count("id", filter=Q(status__in=(VehicleStatus.MAINTENANCE, VehicleStatus.UNAVAILABLE))),
    )
    used_in_period = (
        Route.objects.filter(_in(start, end, "planned_start"))
        .exclude(status=RouteStatus.CANCELLED)
        .order_by()
        .values("vehicle_id")
        .distinct()
        .count()
    )
    serviceable = fleet["total"] - fleet["out_of_service"]
    return {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "orders_by_status": by_status,
        "outcomes": len(rows),
        "deliveries": delivered_or_failed,
        "on_time_rate": round(on_time / delivered_or_failed, 4) if delivered_or_failed else None,
        "fleet": {
            "vehicles": fleet["total"],
            "in_use_now": fleet["in_use"],
            "out_of_service": fleet["out_of_service"],
            "utilisation_now": round(fleet["in_use"] / serviceable, 4) if serviceable else None,
            "used_in_period": used_in_period,
            "utilisation_in_period": round(used_in_period / serviceable, 4) if serviceable else None,
        },
        "mape": {
            "cost": _mape([r[1] for r in rows]),
            "duration": _mape([r[2] for r in rows]),
            "distance": _mape([r[3] for r in rows]),
        },
        "mape_by_day": [
            {
                "day": day,
                "outcomes": len(costs),
                "cost": _mape(costs),
                "duration": _mape(durations),
                "distance": _mape(distances),
            }
            for day, (costs, durations, distances) in sorted(daily.items())
        ],
    }
