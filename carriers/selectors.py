"""Reads of the carrier sales desk that are more than a filter."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, F, FloatField, Prefetch, Q, Sum
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from .choices import CallOutcome, IneligibilityReason, OfferDecision, Sentiment
from .models import Call, Carrier, Load, Offer

TOP_LANES = 10


def carrier_queryset():
    return Carrier.all_objects.all()


def load_queryset():
    return Load.all_objects.select_related("booked_carrier")


def call_queryset(*, with_rounds: bool = False):
    queryset = Call.objects.select_related("load", "carrier")
    if with_rounds:
        queryset = queryset.prefetch_related(
            Prefetch(
                "offers",
                queryset=Offer.objects.select_related("negotiation__load", "negotiation__carrier").order_by(
                    "created_at", "round"
                ),
            )
        )
    return queryset


def _period_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Whole days, ``end`` included, in the site's time zone."""
    tz = timezone.get_current_timezone()
    lower = datetime.combine(start, time.min, tzinfo=tz) if start else None
    upper = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz) if end else None
    return lower, upper


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def carrier_sales_metrics(*, start: date | None = None, end: date | None = None) -> dict:
    """The sales dashboard for calls started (and agreements made) between ``start`` and
    ``end``, inclusive. Five aggregate queries whatever the number of calls."""
    lower, upper = _period_bounds(start, end)
    calls = Call.objects.order_by()
    agreements = Offer.objects.filter(decision=OfferDecision.ACCEPT).order_by()
    if lower:
        calls = calls.filter(started_at__gte=lower)
        agreements = agreements.filter(created_at__gte=lower)
    if upper:
        calls = calls.filter(started_at__lt=upper)
        agreements = agreements.filter(created_at__lt=upper)

    is_booked = Q(outcome=CallOutcome.BOOKED)
    not_eligible = Q(outcome=CallOutcome.CARRIER_NOT_ELIGIBLE)
    counts = {"total": Count("id"), "booked": Count("id", filter=is_booked)}
    counts.update({f"outcome:{value}": Count("id", filter=Q(outcome=value)) for value in CallOutcome.values})
    counts.update({f"sentiment:{value}": Count("id", filter=Q(sentiment=value)) for value in Sentiment.values})
    counts.update(
        {
            # The reasons are a JSON list; matching the quoted code works on SQLite and PostgreSQL alike.
            f"reason:{value}": Count(
                "id", filter=not_eligible & Q(carrier__ineligibility_reasons__icontains=f'"{value}"')
            )
            for value in IneligibilityReason.values
        }
    )
    totals = calls.aggregate(**counts)

    posted = Cast("negotiation__load__loadboard_rate", FloatField())
    agreed = Cast("agreed_amount", FloatField())
    deal = agreements.aggregate(
        count=Count("id"),
        rounds=Avg("round"),
        premium=Avg((agreed - posted) * 100.0 / posted),
        value=Sum("agreed_amount"),
    )

    per_day = (
        calls.annotate(day=TruncDate("started_at"))
        .values("day")
        .annotate(calls=Count("id"), booked=Count("id", filter=is_booked))
        .order_by("day")
    )
    lanes = (
        calls.filter(load__isnull=False)
        .values(
            origin_city=F("load__origin_city"),
            origin_state=F("load__origin_state"),
            destination_city=F("load__destination_city"),
            destination_state=F("load__destination_state"),
        )
        .annotate(calls=Count("id"), booked=Count("id", filter=is_booked))
        .order_by("-calls", "-booked", "origin_state", "origin_city", "destination_state", "destination_city")[
            :TOP_LANES
        ]
    )
    equipment = (
        calls.filter(load__isnull=False)
        .values(equipment_type=F("load__equipment_type"))
        .annotate(calls=Count("id"))
        .order_by("-calls", "equipment_type")
    )

    total = totals["total"]
    return {
        "from": start,
        "to": end,
        "total_calls": total,
        "booked_calls": totals["booked"],
        "booking_rate": _ratio(totals["booked"], total),
        "outcomes": {value: totals[f"outcome:{value}"] for value in CallOutcome.values},
        "sentiments": {value: totals[f"sentiment:{value}"] for value in Sentiment.values},
        "agreements": deal["count"],
        "average_rounds_to_agreement": round(deal["rounds"], 2) if deal["rounds"] is not None else None,
        "average_premium_pct": round(deal["premium"], 2) if deal["premium"] is not None else None,
        "booked_value": str((deal["value"] or Decimal("0")).quantize(Decimal("0.01"))),
        "calls_per_day": [{"date": row["day"], "calls": row["calls"], "booked": row["booked"]} for row in per_day],
        "top_lanes": [
            {
                "origin": f"{row['origin_city']}, {row['origin_state']}",
                "destination": f"{row['destination_city']}, {row['destination_state']}",
                "calls": row["calls"],
                "booked": row["booked"],
            }
            for row in lanes
        ],
        "equipment_demand": {row["equipment_type"]: row["calls"] for row in equipment},
        "verification_failures": {value: totals[f"reason:{value}"] for value in IneligibilityReason.values},
    }
