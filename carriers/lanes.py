"""Lane rate intelligence: what the desk has really paid per lane (origin state → destination state)
and equipment type, and the ceiling that history suggests for a new load.

Percentiles are continuous (linear interpolation between the nearest ranks, PostgreSQL's
``percentile_cont``). PostgreSQL computes them in the database over the index
``load_lane_booked_idx``; SQLite has no percentile aggregate, so there the booked rows of each lane
are read and the same interpolation is done in Python (fine for the embedded, single-desk case).
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q
from django.db.models.functions import Cast

from core import clock, runtime

from .choices import CARRIER_HELD_STATUSES
from .models import CENT, Load

QUARTILES = (0.25, 0.5, 0.75)


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """``percentile_cont`` over an ascending list, in Python."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * (position - lower)


def bookings(*, since=None, until=None, origin_state=None, destination_state=None, equipment_type=None):
    """Loads the desk booked (and those since moved on to transit or delivery) in the period."""
    rows = Load.all_objects.filter(status__in=CARRIER_HELD_STATUSES, agreed_rate__isnull=False).order_by()
    if since is not None:
        rows = rows.filter(booked_at__gte=since)
    if until is not None:
        rows = rows.filter(booked_at__lt=until)
    if origin_state:
        rows = rows.filter(origin_state=origin_state)
    if destination_state:
        rows = rows.filter(destination_state=destination_state)
    if equipment_type:
        rows = rows.filter(equipment_type=equipment_type)
    return rows


LANE_KEYS = ("origin_state", "destination_state", "equipment_type")
RATE_PER_MILE = Cast("agreed_rate", FloatField()) / Cast("miles", FloatField())
PREMIUM_PCT = (
    (Cast("agreed_rate", FloatField()) - Cast("loadboard_rate", FloatField()))
    * 100.0
    / Cast("loadboard_rate", FloatField())
)


def _rounded(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


def _lane_row(key: dict, count: int, per_mile: list, premium: list) -> dict:
    return {
        **key,
        "bookings": count,
        "rate_per_mile": {f"p{int(q * 100)}": _rounded(per_mile[i], 4) for i, q in enumerate(QUARTILES)},
        "premium_pct": {f"p{int(q * 100)}": _rounded(premium[i], 2) for i, q in enumerate(QUARTILES)},
    }


def lane_rates(**filters) -> list[dict]:
    """Per lane and equipment type: bookings and the quartiles of the agreed rate per mile (loads
    with miles) and of the premium over the posted rate (%). Busiest lanes first."""
    rows = bookings(**filters)
    if connection.vendor == "postgresql":
        has_miles = Q(miles__isnull=False, miles__gt=0)
        aggregates = {"count": Count("id")}
        for q in QUARTILES:
            aggregates[f"mile_{q}"] = PercentileCont(RATE_PER_MILE, q, filter=has_miles)
            aggregates[f"premium_{q}"] = PercentileCont(PREMIUM_PCT, q)
        grouped = rows.values(*LANE_KEYS).annotate(**aggregates).order_by("-count", *LANE_KEYS)
        return [
            _lane_row(
                {key: row[key] for key in LANE_KEYS},
                row["count"],
                [row[f"mile_{q}"] for q in QUARTILES],
                [row[f"premium_{q}"] for q in QUARTILES],
            )
            for row in grouped
        ]

    lanes: dict[tuple, tuple[list, list]] = {}
    for *key, per_mile, premium in rows.annotate(per_mile=RATE_PER_MILE, premium=PREMIUM_PCT).values_list(
        *LANE_KEYS, "per_mile", "premium"
    ):
        mile_values, premium_values = lanes.setdefault(tuple(key), ([], []))
        if per_mile is not None:
            mile_values.append(per_mile)
        premium_values.append(premium)
    result = []
    for key, (mile_values, premium_values) in lanes.items():
        mile_values.sort()
        premium_values.sort()
        result.append(
            _lane_row(
                dict(zip(LANE_KEYS, key, strict=True)),
                len(premium_values),
                [percentile(mile_values, q) for q in QUARTILES],
                [percentile(premium_values, q) for q in QUARTILES],
            )
        )
    return sorted(result, key=lambda row: (-row["bookings"], *(row[key] for key in LANE_KEYS)))


@dataclass(frozen=True)
class CeilingSuggestion:
    amount: Decimal
    method: str  # "lane_history" or "default_percentage"
    explanation: str
    bookings: int
    rate_per_mile_p75: float | None

    def as_dict(self) -> dict:
        return {
            "amount": str(self.amount),
            "method": self.method,
            "explanation": self.explanation,
            "bookings": self.bookings,
            "rate_per_mile_p75": self.rate_per_mile_p75,
        }


def suggest_ceiling(load: Load) -> CeilingSuggestion:
    """The ceiling the lane's history supports: the 75th percentile of the agreed rate per mile on
    the same lane and equipment × the load's miles, never below the posted rate. With too few
    bookings (or no miles) it falls back to the posted rate plus NEGOTIATION_CEILING_PCT."""
    days = runtime.get("LANE_RATE_DAYS")
    minimum = runtime.get("LANE_RATE_MIN_BOOKINGS")
    history = []
    if load.miles:
        since = clock.now() - timedelta(days=days)
        lanes = lane_rates(
            since=since,
            origin_state=load.origin_state,
            destination_state=load.destination_state,
            equipment_type=load.equipment_type,
        )
        history = lanes[0] if lanes else None
    count = history["bookings"] if history else 0
    p75 = history["rate_per_mile"]["p75"] if history else None
    if count >= minimum and p75 is not None:
        amount = (Decimal(str(p75)) * load.miles).quantize(CENT, rounding=ROUND_HALF_UP)
        amount = max(amount, load.loadboard_rate)
        explanation = (
            f"75th percentile of {count} bookings {load.origin_state} → {load.destination_state} "
            f"({load.equipment_type}) in the last {days} days: ${p75:.2f}/mile × {load.miles} miles"
            + (", raised to the posted rate" if amount == load.loadboard_rate else "")
            + "."
        )
        return CeilingSuggestion(amount, "lane_history", explanation, count, p75)
    pct = runtime.get("NEGOTIATION_CEILING_PCT")
    reason = "the load has no miles" if not load.miles else f"only {count} bookings on this lane (fewer than {minimum})"
    return CeilingSuggestion(
        Load(loadboard_rate=load.loadboard_rate).ceiling(pct),
        "default_percentage",
        f"Posted rate plus {pct:g}%: {reason} in the last {days} days.",
        count,
        p75,
    )
