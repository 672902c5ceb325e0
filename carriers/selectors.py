"""Reads of the carrier sales desk that are more than a filter."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, FloatField, Prefetch, Q, Sum, prefetch_related_objects
from django.db.models.functions import Cast
from django.utils import timezone

from core.fastpaths.prepared import PreparedQuery

from .choices import CallOutcome, IneligibilityReason, LookupOutcome, OfferDecision, Sentiment
from .models import (
    AgreementDayTotal,
    Call,
    CallDayTotal,
    CallLaneDayTotal,
    Carrier,
    FollowUp,
    Load,
    Negotiation,
    Offer,
    OfferDayTotal,
    VerificationLookup,
)

TOP_LANES = 10


def carrier_queryset():
    return Carrier.all_objects.all()


def load_queryset():
    # A load shows its carrier by MC number; the carrier's stored FMCSA answer stays behind.
    return Load.all_objects.select_related("booked_carrier").defer("booked_carrier__fmcsa_data")


def load_row_queryset(*, columns, include_deleted: bool = False):
    """Loads as plain rows of ``columns`` (``QuerySet.values()``): related objects by one column
    each, read through the join (``booked_carrier__mc_number``)."""
    return (Load.all_objects if include_deleted else Load.objects).values(*columns)


def load_rows(*, columns, include_deleted: bool = False) -> PreparedQuery:
    """``load_row_queryset()`` for the desk's hottest reads, the load search and a load's JSON
    detail: a stand-in whose SQL is compiled once per filter shape and kept prepared
    (``core.fastpaths.prepared``). Filters, ordering, cursor pages and ``get()`` go through it
    as through the queryset; anything else is answered by the ORM."""
    columns = tuple(columns)
    return PreparedQuery(
        Load,
        lambda: load_row_queryset(columns=columns, include_deleted=include_deleted),
        key=("load-rows", columns, include_deleted),
    )


def call_rounds():
    """What a call's detail shows besides the call: its negotiation rounds and follow-ups."""
    return (
        Prefetch(
            "offers",
            queryset=Offer.objects.select_related("negotiation__load", "negotiation__carrier").order_by(
                "created_at", "round"
            ),
        ),
        Prefetch("follow_ups", queryset=follow_up_queryset()),
    )


def prefetch_call_rounds(call: Call, *, rounds: bool = True, follow_ups: bool = True) -> None:
    """Read ``call``'s rounds and follow-ups as its detail shows them. A relation the caller
    knows to be empty (``rounds`` / ``follow_ups`` false: a call just logged that linked no
    round or set no follow-up) is set empty without a query."""
    wanted = {"offers": rounds, "follow_ups": follow_ups}
    prefetch_related_objects([call], *(lookup for lookup in call_rounds() if wanted[lookup.prefetch_to]))
    for name, read in wanted.items():
        if not read:
            empty = getattr(call, name).none()
            empty._result_cache, empty._prefetch_done = [], True
            call.__dict__.setdefault("_prefetched_objects_cache", {})[name] = empty


def call_queryset(*, with_rounds: bool = False):
    queryset = Call.objects.select_related("load", "carrier")
    if with_rounds:
        queryset = queryset.select_related("created_by", "updated_by").prefetch_related(*call_rounds())
    return queryset


def period_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Whole days, ``end`` included, in the site's time zone."""
    tz = timezone.get_current_timezone()
    lower = datetime.combine(start, time.min, tzinfo=tz) if start else None
    upper = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz) if end else None
    return lower, upper


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def carrier_sales_metrics(*, start: date | None = None, end: date | None = None) -> dict:
    """The sales dashboard for calls started (and agreements made) between ``start`` and
    ``end``, inclusive. Counts and averages come from the daily totals (``carriers.rollups``),
    so the cost follows the number of days, not of calls; six queries in all."""
    days = Q()
    if start:
        days &= Q(day__gte=start)
    if end:
        days &= Q(day__lte=end)
    call_days = CallDayTotal.objects.filter(days).order_by()
    lane_days = CallLaneDayTotal.objects.filter(days).order_by()

    # One pass over (day, outcome, sentiment) rows gives the totals and the per-day series.
    outcomes = dict.fromkeys(CallOutcome.values, 0)
    sentiments = dict.fromkeys(Sentiment.values, 0)
    per_day: dict[date, dict] = {}
    for day, outcome, sentiment, calls in call_days.values_list("day", "outcome", "sentiment", "calls"):
        outcomes[outcome] += calls
        sentiments[sentiment] += calls
        counts = per_day.setdefault(day, {"date": day, "calls": 0, "booked": 0})
        counts["calls"] += calls
        if outcome == CallOutcome.BOOKED:
            counts["booked"] += calls
    totals = {"total": sum(outcomes.values()), "booked": outcomes[CallOutcome.BOOKED]}

    deal = AgreementDayTotal.objects.filter(days).aggregate(
        count=Sum("agreements"), rounds=Sum("rounds"), premium=Sum("premium_pct"), value=Sum("agreed_value")
    )
    agreements = deal["count"] or 0

    # One grouping by lane and equipment gives both the top lanes and the equipment demand.
    lane_calls: dict[tuple, list[int]] = {}
    equipment: dict[str, int] = {}
    grouped = lane_days.values_list(
        "origin_city", "origin_state", "destination_city", "destination_state", "equipment_type"
    ).annotate(calls=Sum("calls"), booked=Sum("booked"))
    for origin_city, origin_state, destination_city, destination_state, equipment_type, calls, booked in grouped:
        counts = lane_calls.setdefault((origin_city, origin_state, destination_city, destination_state), [0, 0])
        counts[0] += calls
        counts[1] += booked
        equipment[equipment_type] = equipment.get(equipment_type, 0) + calls
    top_lanes = sorted(
        lane_calls.items(), key=lambda item: (-item[1][0], -item[1][1], item[0][1], item[0][0], item[0][3], item[0][2])
    )[:TOP_LANES]
    failures = verification_failures(start=start, end=end)
    negotiation = negotiation_metrics(OfferDayTotal.objects.filter(days))

    total = totals["total"]
    return {
        "from": start,
        "to": end,
        "total_calls": total,
        "booked_calls": totals["booked"],
        "booking_rate": _ratio(totals["booked"], total),
        "outcomes": outcomes,
        "sentiments": sentiments,
        "agreements": agreements,
        "average_rounds_to_agreement": round(deal["rounds"] / agreements, 2) if agreements else None,
        "average_premium_pct": round(deal["premium"] / agreements, 2) if agreements else None,
        "booked_value": str((deal["value"] or Decimal("0")).quantize(Decimal("0.01"))),
        "calls_per_day": [per_day[day] for day in sorted(per_day)],
        "top_lanes": [
            {
                "origin": f"{origin_city}, {origin_state}",
                "destination": f"{destination_city}, {destination_state}",
                "calls": calls,
                "booked": booked,
            }
            for (origin_city, origin_state, destination_city, destination_state), (calls, booked) in top_lanes
        ],
        "equipment_demand": dict(sorted(equipment.items(), key=lambda item: (-item[1], item[0]))),
        "verification_failures": failures,
        "negotiation": negotiation,
        "overdue_follow_ups": FollowUp.objects.filter(done_at__isnull=True, due_at__lt=timezone.now()).count(),
    }


def negotiation_metrics(offer_days) -> dict:
    """How negotiations go, from the daily offer totals: acceptance rate per round, the share of
    concluded negotiations that ended in a rejection (an ask still above the ceiling in the last
    round, or a counter that would have reached it), and the average first ask over the posted rate."""
    per_round: dict[int, dict[str, int]] = {}
    first_ask_sum, first_asks = 0.0, 0
    for round_number, decision, offers, ask_premium in offer_days.order_by().values_list(
        "round", "decision", "offers", "ask_premium_pct"
    ):
        counts = per_round.setdefault(round_number, dict.fromkeys(OfferDecision.values, 0))
        counts[decision] += offers
        if round_number == 1:
            first_ask_sum += ask_premium
            first_asks += offers
    accepted = sum(counts[OfferDecision.ACCEPT] for counts in per_round.values())
    rejected = sum(counts[OfferDecision.REJECT] for counts in per_round.values())
    return {
        "offers": sum(sum(counts.values()) for counts in per_round.values()),
        "acceptance_rate_by_round": {
            str(number): _ratio(counts[OfferDecision.ACCEPT], sum(counts.values()))
            for number, counts in sorted(per_round.items())
        },
        "rejected_at_ceiling_share": _ratio(rejected, accepted + rejected),
        "average_first_ask_premium_pct": round(first_ask_sum / first_asks, 2) if first_asks else None,
    }


def verification_failures(*, start: date | None = None, end: date | None = None) -> dict[str, int]:
    """FMCSA lookups in the period that found the carrier not eligible, by reason (one lookup
    may give several reasons). From the verification log, so a carrier's later answers do not
    rewrite the past."""
    lower, upper = period_bounds(start, end)
    lookups = VerificationLookup.objects.filter(outcome=LookupOutcome.INELIGIBLE).order_by()
    if lower:
        lookups = lookups.filter(looked_up_at__gte=lower)
    if upper:
        lookups = lookups.filter(looked_up_at__lt=upper)
    # The reasons are a JSON list; matching the quoted code works on SQLite and PostgreSQL alike.
    return lookups.aggregate(
        **{value: Count("id", filter=Q(reasons__icontains=f'"{value}"')) for value in IneligibilityReason.values}
    )


def negotiation_queryset():
    """Negotiations with their load, carrier and rounds, newest first (three queries a page)."""
    return (
        Negotiation.objects.select_related("load", "carrier")
        .prefetch_related(Prefetch("offers", queryset=Offer.objects.order_by("round")))
        .order_by("-created_at", "-id")
    )


def follow_up_queryset():
    return FollowUp.objects.select_related("call", "assigned_to", "done_by", "created_by", "updated_by")


def carrier_history(*, carrier: Carrier, before=None, limit: int = 20) -> dict:
    """A carrier's calls, negotiations and bookings, newest first, with totals over all time.

    A page holds everything newer than ``next_before`` across the three lists, so following
    ``next_before`` neither skips nor repeats an item. Seven queries whatever the history's size."""
    mc = carrier.mc_number
    calls = Call.objects.filter(mc_number=mc).select_related("load", "created_by", "updated_by")
    negotiations = negotiation_queryset().filter(carrier=carrier)
    bookings = Load.all_objects.filter(booked_carrier=carrier, booked_at__isnull=False)

    call_count = calls.order_by().count()
    negotiation_count = negotiations.order_by().count()
    posted = Cast("loadboard_rate", FloatField())
    booked = bookings.order_by().aggregate(
        count=Count("id"), premium=Avg((Cast("agreed_rate", FloatField()) - posted) * 100.0 / posted)
    )

    if before is not None:
        calls = calls.filter(started_at__lt=before)
        negotiations = negotiations.filter(created_at__lt=before)
        bookings = bookings.filter(booked_at__lt=before)
    pages = {
        "calls": (list(calls.order_by("-started_at", "-id")[:limit]), "started_at"),
        "negotiations": (list(negotiations[:limit]), "created_at"),
        "bookings": (list(bookings.order_by("-booked_at", "-id")[:limit]), "booked_at"),
    }
    # Lists that filled the page may have older items; the page ends at the newest of their last items.
    cutoffs = [getattr(items[-1], field) for items, field in pages.values() if len(items) == limit]
    cutoff = max(cutoffs) if cutoffs else None
    trimmed = {
        name: [item for item in items if cutoff is None or getattr(item, field) >= cutoff]
        for name, (items, field) in pages.items()
    }
    return {
        "mc_number": mc,
        "totals": {
            "calls": call_count,
            "negotiations": negotiation_count,
            "bookings": booked["count"],
            "booking_rate": _ratio(booked["count"], call_count),
            "average_premium_pct": round(booked["premium"], 2) if booked["premium"] is not None else None,
        },
        **trimmed,
        "next_before": cutoff,
    }
