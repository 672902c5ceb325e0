"""The demo desk history: replayed through the services, it gives every sales-desk view something to show,
keeps the daily totals equal to the raw rows, and never passes the demo carriers' fixture answers off as
FMCSA's. The clock is held at a fixed moment so that the replay, and so every figure here, is the same on
every run."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from carriers import selectors, services
from carriers.choices import LoadStatus, NegotiationStatus, VerificationSource
from carriers.models import Call, Carrier, FollowUp, Load, Negotiation, VerificationLookup
from carriers.services import verification_is_fresh
from core import runtime
from demo import desk_history as demo
from tests.carriers.test_rollups import assert_metrics_match
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

NOW = datetime(2026, 10, 14, 15, 30, tzinfo=UTC)  # a Wednesday afternoon
DAYS = 21  # enough bookings on every lane for its history to suggest ceilings; quick to replay
FIXTURE_VERIFIED_AT = datetime(2025, 6, 1, 15, tzinfo=UTC)
DEMO_MC_NUMBERS = (*demo.FIXTURE_MC_NUMBERS, *(carrier.mc_number for carrier in demo.EXTRA_CARRIERS))


@pytest.fixture(autouse=True)
def desk_clock():
    with time_machine.travel(NOW, tick=True):
        yield


def seed(days=DAYS, **options) -> str:
    out = StringIO()
    call_command("seed_desk_history", days=days, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


@pytest.fixture
def rep():
    return UserFactory(username="admin")


@pytest.fixture
def desk(rep):
    call_command("loaddata", "carriers_demo", verbosity=0)
    return seed()


def demo_rows():
    return {
        "loads": set(demo.demo_loads().values_list("pk", flat=True)),
        "calls": set(demo.demo_calls().values_list("pk", flat=True)),
        "negotiations": Negotiation.objects.filter(load__load_id__startswith=demo.LOAD_PREFIX).count(),
        "follow_ups": FollowUp.objects.count(),
    }


def test_every_sales_desk_view_has_something_to_show(desk, manager_client, rep):
    assert f"Desk history of {DAYS} days" in desk
    minimum = runtime.get("LANE_RATE_MIN_BOOKINGS")
    rates = manager_client.get("/api/v1/lanes/rates/").json()
    by_lane = {(row["origin_state"], row["destination_state"], row["equipment_type"]): row for row in rates}
    for lane in demo.LANES:
        row = by_lane[lane.key]
        assert row["bookings"] >= minimum, lane
        quartiles = row["rate_per_mile"]
        assert quartiles["p25"] <= quartiles["p50"] <= quartiles["p75"], lane

    # A load posted without a ceiling on a demo lane: its lane's history suggests one.
    lane = demo.LANES[0]
    posted = manager_client.post(
        "/api/v1/loads/",
        {
            "load_id": "L-NEW-1",
            "origin_city": lane.origin_city,
            "origin_state": lane.origin_state,
            "destination_city": lane.destination_city,
            "destination_state": lane.destination_state,
            "pickup_datetime": (NOW + timedelta(days=2)).isoformat(),
            "delivery_datetime": (NOW + timedelta(days=3)).isoformat(),
            "equipment_type": lane.equipment_type,
            "loadboard_rate": "2600.00",
            "weight": 40000,
            "miles": lane.miles,
        },
        format="json",
    )
    assert posted.status_code == 201, posted.content
    suggestion = manager_client.get("/api/v1/loads/L-NEW-1/ceiling-suggestion/").json()
    assert suggestion["method"] == "lane_history", suggestion
    assert suggestion["bookings"] >= minimum
    assert Decimal(suggestion["amount"]) >= Decimal("2600.00")

    today = timezone.localdate()
    metrics = manager_client.get(
        "/api/v1/metrics/carrier-sales/", {"from": today - timedelta(days=29), "to": today}
    ).json()
    booked_days = [day for day in metrics["calls_per_day"] if day["booked"]]
    assert len(booked_days) >= DAYS // 2
    assert metrics["agreements"] > 0 and metrics["average_rounds_to_agreement"] > 1
    negotiation = metrics["negotiation"]
    assert set(negotiation["acceptance_rate_by_round"]) == {"1", "2", "3"}
    assert 0 < negotiation["rejected_at_ceiling_share"] < 1
    assert negotiation["average_first_ask_premium_pct"] > 0
    assert metrics["overdue_follow_ups"] >= 1
    assert {"booked", "rate_not_agreed", "no_matching_load"} <= {k for k, v in metrics["outcomes"].items() if v}

    open_negotiations = manager_client.get("/api/v1/negotiations/", {"status": "open"}).json()
    assert open_negotiations["count"] >= 1
    for negotiation in open_negotiations["results"]:
        assert Load.objects.get(load_id=negotiation["load_id"]).status == LoadStatus.AVAILABLE

    history = manager_client.get("/api/v1/carriers/123456/history/").json()
    assert history["totals"]["calls"] > 0 and history["totals"]["bookings"] > 0
    assert history["calls"] and history["bookings"]

    mine = manager_client.get("/api/v1/follow-ups/", {"assigned_to": rep.username, "done": "false"}).json()
    assert mine["count"] >= 1
    # The desk's writes are the rep's, as they would be through the API.
    assert Load.objects.filter(load_id__startswith=demo.LOAD_PREFIX).exclude(created_by=rep).count() == 0
    done = FollowUp.objects.exclude(done_at=None)
    assert done.exists() and not done.exclude(done_by=rep).exists()
    # So is their change history, saves and bulk updates alike.
    entries = Load.history.filter(load_id__startswith=demo.LOAD_PREFIX)
    assert {"+", "~"} <= set(entries.values_list("history_type", flat=True))
    assert not entries.exclude(history_user=rep).exists()


def test_what_the_replay_leaves_holds_together(desk):
    # The daily totals equal the raw rows, as a rebuild recounts them.
    assert_metrics_match()
    assert_metrics_match(timezone.localdate() - timedelta(days=6), None)
    kept = selectors.carrier_sales_metrics()
    call_command("rebuild_sales_rollups", stdout=StringIO())
    assert selectors.carrier_sales_metrics() == kept

    # The demo carriers' fixture answers are stale again, still marked as the demo's; nothing asked FMCSA.
    carriers = Carrier.objects.filter(mc_number__in=DEMO_MC_NUMBERS)
    assert carriers.count() == len(DEMO_MC_NUMBERS)
    for carrier in carriers:
        assert carrier.verification_source == VerificationSource.FIXTURE, carrier
        assert carrier.verified_at == FIXTURE_VERIFIED_AT, carrier
        assert not verification_is_fresh(carrier), carrier
    assert not VerificationLookup.objects.exists()
    # The ineligible carrier's stored answer refused it each time it called.
    refused = demo.demo_calls().filter(mc_number="999999")
    assert refused.exists() and not refused.exclude(outcome="carrier_not_eligible").exists()
    assert not Negotiation.objects.filter(carrier__mc_number="999999").exists()

    # Every booking lies in the period and within the load's ceiling.
    booked = demo.demo_loads().filter(booked_at__isnull=False).select_related("booked_carrier")
    assert booked.count() >= len(demo.LANES) * runtime.get("LANE_RATE_MIN_BOOKINGS")
    for load in booked:
        assert timezone.now() - timedelta(days=90) <= load.booked_at <= timezone.now(), load
        assert load.agreed_rate <= services.load_ceiling(load), load
        assert load.negotiations.get(status=NegotiationStatus.BOOKED).agreed_rate == load.agreed_rate
    # Loads whose pickup has passed are on the road, delivered or expired; open negotiations are on the board.
    past = demo.demo_loads().filter(pickup_datetime__lt=timezone.now())
    assert not past.filter(status__in=[LoadStatus.AVAILABLE, LoadStatus.BOOKED]).exists()
    assert not Negotiation.objects.filter(status=NegotiationStatus.OPEN).exclude(load__status="available").exists()


def test_a_second_run_does_nothing_and_reset_replays(desk):
    before = demo_rows()
    assert "already there" in seed()
    assert demo_rows() == before

    assert "Removed the previous desk history" in seed(reset=True)
    after = demo_rows()
    assert after["loads"] and not after["loads"] & before["loads"]
    assert after["calls"] and not after["calls"] & before["calls"]
    assert_metrics_match()  # the removed days were recounted


def test_carriers_answered_by_fmcsa_are_left_alone(db):
    call_command("loaddata", "carriers_demo", verbosity=0)
    answered_at = NOW - timedelta(hours=2)
    Carrier.objects.filter(mc_number="789012").update(
        verification_source=VerificationSource.FMCSA, verified_at=answered_at
    )
    err = StringIO()
    call_command("seed_desk_history", days=3, stdout=StringIO(), stderr=err)
    assert "MC789012 has an FMCSA answer" in err.getvalue()
    carrier = Carrier.objects.get(mc_number="789012")
    assert carrier.verified_at == answered_at and carrier.verification_source == VerificationSource.FMCSA
    assert not Call.objects.filter(mc_number="789012", external_id__startswith=demo.CALL_PREFIX).exists()
    assert not Negotiation.objects.filter(carrier=carrier, load__load_id__startswith=demo.LOAD_PREFIX).exists()


def test_fixture_answers_of_fmcsa_verified_carriers_are_never_dated(db):
    carrier = Carrier.objects.create(mc_number="424242", verification_source=VerificationSource.FMCSA)
    with pytest.raises(demo.DemoError), demo.fixture_answers_dated([carrier]):
        pass


def test_without_answer_reuse_nothing_is_replayed(db, settings):
    call_command("loaddata", "carriers_demo", verbosity=0)
    settings.FMCSA_CACHE_HOURS = 0
    with pytest.raises(CommandError, match="FMCSA_CACHE_HOURS"):
        seed(days=3)
    assert not demo.desk_history_exists()
    assert not VerificationLookup.objects.exists()


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 10, 12, 6, 30, tzinfo=UTC),  # a Monday before the desk opens
        datetime(2026, 10, 17, 12, 0, tzinfo=UTC),  # a Saturday noon
        datetime(2026, 10, 15, 21, 45, tzinfo=UTC),  # a Thursday after closing
    ],
)
def test_the_desk_ends_mid_negotiation_whenever_it_is_seeded(db, now):
    call_command("loaddata", "carriers_demo", verbosity=0)
    with time_machine.travel(now, tick=True):
        seed(days=2)
        assert Negotiation.objects.filter(status=NegotiationStatus.OPEN).exists()
        assert FollowUp.objects.filter(done_at__isnull=True, due_at__lt=timezone.now()).exists()
        assert not demo.demo_calls().filter(started_at__gt=timezone.now()).exists()
        assert not FollowUp.objects.filter(done_at__gt=timezone.now()).exists()
