"""Reads the operations dashboard needs beyond the sales metrics the API publishes.

Each one uses the same period rule as ``selectors.carrier_sales_metrics`` (calls started
between ``start`` and ``end``, whole days, both included), so its numbers line up with them.
"""

from datetime import date

from django.db.models import Count, Exists, OuterRef, Q

from .choices import CallOutcome, NegotiationStatus
from .models import Call, Negotiation, Offer
from .selectors import period_bounds

OPEN_NEGOTIATIONS_SHOWN = 20

# Calls that reached each step; every step keeps only calls that reached the one before.
FUNNEL_STAGES = (
    ("calls", "Calls"),
    ("verified", "Carrier verified"),
    ("load_matched", "Load matched"),
    ("offer_made", "Offer made"),
    ("booked", "Booked"),
)


def sales_funnel(*, start: date | None = None, end: date | None = None) -> list[dict]:
    """Calls → carrier verified → load matched → offer made → booked, in one aggregate query.

    A call counts as *verified* when it is linked to a known carrier that was not refused,
    *load matched* when a load was discussed, *offer made* when rates were negotiated on it
    (offer rounds recorded, or it ended booked or without agreement on the rate)."""
    lower, upper = period_bounds(start, end)
    calls = Call.objects.order_by()
    if lower:
        calls = calls.filter(started_at__gte=lower)
    if upper:
        calls = calls.filter(started_at__lt=upper)

    verified = Q(carrier__isnull=False) & ~Q(outcome=CallOutcome.CARRIER_NOT_ELIGIBLE)
    matched = verified & Q(load__isnull=False)
    negotiated = Q(Exists(Offer.objects.filter(call=OuterRef("pk")))) | Q(
        outcome__in=[CallOutcome.BOOKED, CallOutcome.RATE_NOT_AGREED]
    )
    offered = matched & negotiated
    booked = offered & Q(outcome=CallOutcome.BOOKED)
    row = calls.aggregate(
        calls=Count("pk"),
        verified=Count("pk", filter=verified),
        load_matched=Count("pk", filter=matched),
        offer_made=Count("pk", filter=offered),
        booked=Count("pk", filter=booked),
    )
    return [{"stage": key, "label": label, "count": row[key]} for key, label in FUNNEL_STAGES]


def open_negotiations(*, limit: int = OPEN_NEGOTIATIONS_SHOWN) -> tuple[int, list[Negotiation]]:
    """How many negotiations are open right now, and the ``limit`` most recently active,
    with their load and carrier. Two queries."""
    queryset = Negotiation.objects.filter(status=NegotiationStatus.OPEN).order_by()
    total = queryset.count()
    rows = list(queryset.select_related("load", "carrier").order_by("-updated_at", "-created_at")[:limit])
    return total, rows
