"""The sales metrics come from daily totals; these tests hold them equal to the same aggregates
computed directly over the raw calls and offers, whatever the data."""

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Avg, Count, FloatField, Q, Sum
from django.db.models.functions import Cast, TruncDate

from carriers import rollups, selectors, services
from carriers.choices import CallOutcome, EquipmentType, OfferDecision, Sentiment
from carriers.models import Call, CallDayTotal, CallLaneDayTotal, Load, Offer
from tests.carriers.factories import CallFactory, CarrierFactory, LoadFactory
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db

CITIES = [("Chicago", "IL"), ("Dallas", "TX"), ("Atlanta", "GA"), ("Miami", "FL"), ("Denver", "CO")]


def direct_metrics(start: date | None, end: date | None) -> dict:
    """The metrics computed straight from the raw rows: the definition the totals must equal."""
    calls, agreements = Call.objects.order_by(), Offer.objects.filter(decision=OfferDecision.ACCEPT).order_by()
    if start:
        calls = calls.filter(started_at__date__gte=start)
        agreements = agreements.filter(created_at__date__gte=start)
    if end:
        calls = calls.filter(started_at__date__lte=end)
        agreements = agreements.filter(created_at__date__lte=end)
    booked = Q(outcome=CallOutcome.BOOKED)
    posted = Cast("negotiation__load__loadboard_rate", FloatField())
    deal = agreements.aggregate(
        count=Count("id"),
        rounds=Avg("round"),
        premium=Avg((Cast("agreed_amount", FloatField()) - posted) * 100.0 / posted),
        value=Sum("agreed_amount"),
    )
    lanes = (
        calls.filter(load__isnull=False)
        .values("load__origin_city", "load__origin_state", "load__destination_city", "load__destination_state")
        .annotate(calls=Count("id"), booked=Count("id", filter=booked))
        .order_by("-calls", "-booked", "load__origin_state", "load__origin_city", "load__destination_state")
    )
    return {
        "total_calls": calls.count(),
        "booked_calls": calls.filter(booked).count(),
        "outcomes": {v: calls.filter(outcome=v).count() for v in CallOutcome.values},
        "sentiments": {v: calls.filter(sentiment=v).count() for v in Sentiment.values},
        "agreements": deal["count"],
        "average_rounds_to_agreement": None if deal["rounds"] is None else round(float(deal["rounds"]), 2),
        "average_premium_pct": None if deal["premium"] is None else round(deal["premium"], 2),
        "booked_value": str((deal["value"] or Decimal("0")).quantize(Decimal("0.01"))),
        "calls_per_day": [
            {"date": row["day"], "calls": row["n"], "booked": row["b"]}
            for row in calls.annotate(day=TruncDate("started_at"))
            .values("day")
            .annotate(n=Count("id"), b=Count("id", filter=booked))
            .order_by("day")
        ],
        "top_lanes": [
            {
                "origin": f"{row['load__origin_city']}, {row['load__origin_state']}",
                "destination": f"{row['load__destination_city']}, {row['load__destination_state']}",
                "calls": row["calls"],
                "booked": row["booked"],
            }
            for row in lanes[: selectors.TOP_LANES]
        ],
        "equipment_demand": {
            row["load__equipment_type"]: row["n"]
            for row in calls.filter(load__isnull=False).values("load__equipment_type").annotate(n=Count("id"))
        },
    }


def assert_metrics_match(start=None, end=None):
    expected = direct_metrics(start, end)
    actual = selectors.carrier_sales_metrics(start=start, end=end)
    for key, value in expected.items():
        if key.startswith("average_") and value is not None:
            assert actual[key] == pytest.approx(value, abs=0.011), key
        elif key == "top_lanes":
            # Ties beyond the ordering keys may come in either order; compare as sets of rows.
            assert sorted(map(str, actual[key])) == sorted(map(str, value)), key
        else:
            assert actual[key] == value, key


def random_sales(seed: int, *, calls: int = 80):
    rng = random.Random(seed)
    carrier = CarrierFactory(mc_number=str(500000 + seed))
    loads = []
    for i in range(8):
        (oc, os_), (dc, ds) = rng.sample(CITIES, 2)
        loads.append(
            LoadFactory(
                load_id=f"R{seed}-{i}",
                origin_city=oc,
                origin_state=os_,
                destination_city=dc,
                destination_state=ds,
                equipment_type=rng.choice(EquipmentType.values),
                loadboard_rate=Decimal(rng.randrange(800, 4000)),
                max_rate=None,
            )
        )
    base = datetime(2026, 10, 1, tzinfo=UTC)
    for _ in range(calls):
        CallFactory(
            started_at=base + timedelta(days=rng.randrange(40), minutes=rng.randrange(24 * 60)),
            outcome=rng.choice(CallOutcome.values),
            sentiment=rng.choice(Sentiment.values),
            load=rng.choice(loads + [None]),
        )
    for load in rng.sample(loads, 4):
        ask = (load.loadboard_rate * Decimal(rng.choice(["1.00", "1.03", "1.08"]))).quantize(Decimal("1"))
        services.offer_make(load_id=load.load_id, mc_number=carrier.mc_number, amount=ask)
    return loads


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_metrics_from_totals_equal_the_direct_aggregates(seed):
    random_sales(seed)
    assert_metrics_match()
    assert_metrics_match(date(2026, 10, 5), date(2026, 10, 20))
    assert_metrics_match(date(2026, 10, 20), None)


def test_a_lane_or_posted_rate_edit_moves_the_counts():
    loads = random_sales(7, calls=40)
    services.load_update(
        load=Load.objects.get(pk=loads[0].pk), origin_city="Springfield", origin_state="IL", equipment_type="flatbed"
    )
    booked = Load.objects.filter(pk__in=[load.pk for load in loads], status="booked").first()
    assert booked is not None
    services.load_update(load=booked, loadboard_rate=booked.loadboard_rate - 50)
    assert_metrics_match()


def test_rebuild_gives_the_same_totals_as_the_writes_kept():
    random_sales(11, calls=50)
    kept = sorted(CallDayTotal.objects.values_list("day", "outcome", "sentiment", "calls"))
    before = selectors.carrier_sales_metrics()
    call_command("rebuild_sales_rollups", verbosity=0)
    assert sorted(CallDayTotal.objects.values_list("day", "outcome", "sentiment", "calls")) == kept
    assert selectors.carrier_sales_metrics() == before


def test_rows_loaded_from_a_fixture_are_counted_once(tmp_path):
    call = CallFactory(outcome="booked", started_at=datetime(2026, 10, 3, 9, tzinfo=UTC))
    fixture = tmp_path / "calls.json"
    call_command("dumpdata", "carriers.call", output=str(fixture), verbosity=0)
    # As on a fresh database: the call and its totals are gone, then the fixture brings them back.
    Call.objects.all().delete()
    rollups.rebuild()
    assert selectors.carrier_sales_metrics()["total_calls"] == 0
    call_command("loaddata", str(fixture), verbosity=0)
    call_command("loaddata", str(fixture), verbosity=0)  # loading again updates, never double counts
    assert selectors.carrier_sales_metrics()["total_calls"] == 1
    assert call.pk == Call.objects.get().pk


@pytest.mark.django_db(transaction=True)
def test_calls_logged_at_the_same_moment_are_all_counted():
    # Each call adds to the same day's totals rows, which none of them finds existing: every
    # writer inserts or adds in one statement, so no addition is lost to the race.
    load = LoadFactory(origin_city="Chicago", origin_state="IL", destination_city="Dallas", destination_state="TX")
    started = datetime(2026, 11, 2, 15, tzinfo=UTC)

    def log(n):
        return lambda: (
            services.call_log(
                external_id=f"race-{n}",
                started_at=started,
                duration_seconds=60,
                outcome=CallOutcome.BOOKED,
                sentiment=Sentiment.POSITIVE,
                load_id=load.load_id,
            ).created
        )

    threads = 8
    assert run_at_once([log(n) for n in range(threads)]) == [True] * threads
    assert CallDayTotal.objects.get().calls == threads
    assert list(CallLaneDayTotal.objects.values_list("calls", "booked")) == [(threads, threads)]
    assert_metrics_match()
