"""POST loads/{load_id}/offers/: negotiation decided on the server, booking on accept."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from carriers.choices import LoadStatus, NegotiationStatus
from carriers.models import Load, Negotiation, Offer
from core.models import RuntimeSetting
from tests.carriers.conftest import docket_body, qc_carrier
from tests.carriers.factories import CallFactory, CarrierFactory, LoadFactory

pytestmark = pytest.mark.django_db

RESULT_KEYS = {"round", "decision", "counter_amount", "agreed_amount", "rounds_left", "load_status"}


def offer(client, load_id, mc, amount, **extra):
    return client.post(f"/api/v1/loads/{load_id}/offers/", {"mc_number": mc, "amount": amount, **extra})


@pytest.fixture
def load():
    return LoadFactory(load_id="L-10042", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))


@pytest.fixture
def carrier():
    return CarrierFactory(mc_number="123456")


def test_ask_at_posted_rate_books_the_load(sales_agent_client, load, carrier):
    response = offer(sales_agent_client, "L-10042", "MC 123456", "2000.00")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == RESULT_KEYS
    assert body == {
        "round": 1,
        "decision": "accept",
        "counter_amount": None,
        "agreed_amount": "2000.00",
        "rounds_left": 0,
        "load_status": "booked",
    }
    load.refresh_from_db()
    assert load.status == LoadStatus.BOOKED and load.booked_carrier == carrier
    assert load.agreed_rate == Decimal("2000.00") and load.loadboard_rate == Decimal("2000.00")
    assert load.version == 2 and load.booked_at is not None
    assert load.history.filter(status=LoadStatus.BOOKED).exists()


def test_three_rounds_counter_counter_then_reject(sales_agent_client, load, carrier):
    first = offer(sales_agent_client, "L-10042", "123456", "2600.00").json()
    assert first["decision"] == "counter" and first["round"] == 1 and first["rounds_left"] == 2
    counter1 = Decimal(first["counter_amount"])
    assert Decimal("2000.00") <= counter1 <= Decimal("2200.00")
    second = offer(sales_agent_client, "L-10042", "123456", "2500.00").json()
    counter2 = Decimal(second["counter_amount"])
    assert second["decision"] == "counter" and counter2 >= counter1 and second["rounds_left"] == 1
    third = offer(sales_agent_client, "L-10042", "123456", "2400.00").json()
    assert third["decision"] == "reject" and third["rounds_left"] == 0 and third["load_status"] == "available"
    fourth = offer(sales_agent_client, "L-10042", "123456", "2000.00")
    assert fourth.status_code == 409
    assert fourth.json()["code"] == "negotiation_closed"
    negotiation = Negotiation.objects.get()
    assert negotiation.status == NegotiationStatus.REJECTED and negotiation.rounds_used == 3
    assert list(negotiation.offers.values_list("round", flat=True)) == [1, 2, 3]
    load.refresh_from_db()
    assert load.status == LoadStatus.AVAILABLE and load.agreed_rate is None


def test_ask_at_our_previous_counter_is_accepted(sales_agent_client, load, carrier):
    counter = offer(sales_agent_client, "L-10042", "123456", "2600.00").json()["counter_amount"]
    body = offer(sales_agent_client, "L-10042", "123456", counter).json()
    assert body["decision"] == "accept" and body["agreed_amount"] == counter and body["load_status"] == "booked"


def test_last_round_within_ceiling_is_accepted(sales_agent_client, load, carrier):
    offer(sales_agent_client, "L-10042", "123456", "2600.00")
    offer(sales_agent_client, "L-10042", "123456", "2500.00")
    body = offer(sales_agent_client, "L-10042", "123456", "2190.00").json()
    assert body["decision"] == "accept" and body["agreed_amount"] == "2190.00"


def test_ceiling_defaults_from_the_setting_and_is_never_in_the_answer(sales_agent_client, carrier):
    LoadFactory(load_id="L-1", loadboard_rate=Decimal("1000.00"), max_rate=None)  # ceiling 1100.00 at 10 %
    offer(sales_agent_client, "L-1", "123456", "5000.00")
    offer(sales_agent_client, "L-1", "123456", "5000.00")
    response = offer(sales_agent_client, "L-1", "123456", "1100.01")
    assert response.json()["decision"] == "reject"
    # Not as a number anywhere (digits inside a timestamp's microseconds are not a rate).
    assert not re.search(r"(?<!\d)1100(?!\d)", response.content.decode())


def answers(client, load_id, mc, asks):
    return [
        {key: body[key] for key in ("round", "decision", "counter_amount", "rounds_left")}
        for body in (offer(client, load_id, mc, ask).json() for ask in asks)
    ]


CEILINGS = {"L-LOW": "2111.11", "L-MID": "2444.44", "L-HIGH": "3333.33"}


def test_the_same_asks_get_the_same_counters_whatever_the_ceiling(sales_agent_client):
    """The old rule countered halfway to the ceiling, so one absurd ask gave the ceiling away
    (posted + 2 × (counter − posted)). Now counters follow the posted rate, the asks and the round."""
    for load_id, ceiling in CEILINGS.items():
        LoadFactory(load_id=load_id, loadboard_rate=Decimal("2000.00"), max_rate=Decimal(ceiling))
    asks = ["9999.00", "9999.00"]
    low, mid, high = (
        answers(sales_agent_client, load_id, CarrierFactory().mc_number, asks)
        for load_id in ("L-LOW", "L-MID", "L-HIGH")
    )
    first = {"round": 1, "decision": "counter", "counter_amount": "2060.00", "rounds_left": 2}  # 3 % in round 1
    second = {"round": 2, "decision": "counter", "counter_amount": "2120.00", "rounds_left": 1}  # 6 % in round 2
    assert mid == high == [first, second]
    # Where the next counter would pass the ceiling, the answer is a reject, not a counter at the ceiling.
    assert low == [first, {"round": 2, "decision": "reject", "counter_amount": None, "rounds_left": 0}]
    body = sales_agent_client.get("/api/v1/negotiations/").content.decode()
    assert not any(ceiling in body for ceiling in CEILINGS.values())


def test_the_concession_schedule_is_an_operator_setting(sales_agent_client, load, carrier):
    RuntimeSetting.objects.create(key="NEGOTIATION_CONCESSION_SCHEDULE_PCT", value=[1, 2.5])
    counters = [offer(sales_agent_client, "L-10042", "123456", "2600.00").json()["counter_amount"] for _ in range(2)]
    assert counters == ["2020.00", "2050.00"]


@pytest.mark.parametrize("bad", [[], [3, "x"], [3, 101], [-1], "many", 5, [3] * 21])
def test_a_bad_concession_schedule_is_refused(bad):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        RuntimeSetting(key="NEGOTIATION_CONCESSION_SCHEDULE_PCT", value=bad).full_clean()


def test_max_rounds_is_an_operator_setting(sales_agent_client, load, carrier):
    RuntimeSetting.objects.create(key="NEGOTIATION_MAX_ROUNDS", value=1)
    body = offer(sales_agent_client, "L-10042", "123456", "2600.00").json()
    assert body["decision"] == "reject" and body["rounds_left"] == 0


def test_offer_on_a_booked_load_is_409(sales_agent_client, load, carrier):
    offer(sales_agent_client, "L-10042", "123456", "2000.00")
    other = CarrierFactory(mc_number="654321")
    response = offer(sales_agent_client, "L-10042", other.mc_number, "1900.00")
    assert response.status_code == 409 and response.json()["code"] == "load_not_available"


def test_other_negotiations_close_when_the_load_is_booked(sales_agent_client, load, carrier):
    other = CarrierFactory(mc_number="654321")
    offer(sales_agent_client, "L-10042", "654321", "2600.00")
    offer(sales_agent_client, "L-10042", "123456", "2000.00")
    assert Negotiation.objects.get(carrier=other).status == NegotiationStatus.CLOSED


def test_cancelled_load_is_409(sales_agent_client, carrier):
    LoadFactory(load_id="L-2", status=LoadStatus.CANCELLED)
    assert offer(sales_agent_client, "L-2", "123456", "2000.00").status_code == 409


def test_unknown_load_is_404(sales_agent_client, carrier):
    response = offer(sales_agent_client, "L-404", "123456", "2000.00")
    assert response.status_code == 404


def test_ineligible_carrier_is_403(sales_agent_client, load):
    CarrierFactory(mc_number="999999", ineligible=True)
    response = offer(sales_agent_client, "L-10042", "999999", "2000.00")
    assert response.status_code == 403
    assert "not_allowed_to_operate" in response.json()["detail"]
    assert not Negotiation.objects.exists()


def test_unverified_carrier_is_verified_with_fmcsa_first(fmcsa, sales_agent_client, load):
    fmcsa.on("424242", "json", (200, docket_body(qc_carrier(allowedToOperate="N"))))
    assert offer(sales_agent_client, "L-10042", "424242", "2000.00").status_code == 403
    fmcsa.on("434343", "json", (200, docket_body(qc_carrier())))
    assert offer(sales_agent_client, "L-10042", "434343", "2000.00").json()["decision"] == "accept"


def test_stale_verification_and_fmcsa_down_is_503_and_nothing_changes(fmcsa, sales_agent_client, load):
    CarrierFactory(mc_number="123456", verified_at=timezone.now() - timedelta(days=2))
    fmcsa.on("123456", "html")
    assert offer(sales_agent_client, "L-10042", "123456", "2000.00").status_code == 503
    load.refresh_from_db()
    assert load.status == LoadStatus.AVAILABLE and not Offer.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"mc_number": "123456", "amount": "abc"}, "amount"),
        ({"mc_number": "123456", "amount": "-5"}, "amount"),
        ({"mc_number": "123456", "amount": "0"}, "amount"),
        ({"mc_number": "123456", "amount": "1e9"}, "amount"),
        ({"mc_number": "123456", "amount": "NaN"}, "amount"),
        ({"mc_number": "123456", "amount": "2000.001"}, "amount"),
        ({"mc_number": "123456", "amount": "10000.01"}, "amount"),  # five times the posted rate
        ({"mc_number": "123456"}, "amount"),
        ({"mc_number": "12345678901", "amount": "2000"}, "mc_number"),
        ({"mc_number": "12\x0034", "amount": "2000"}, "mc_number"),
        ({"mc_number": "123456", "amount": "2000", "call_id": "vc\x00-1"}, "call_id"),
    ],
)
def test_bad_offers_are_400_with_field_messages(sales_agent_client, load, carrier, payload, field):
    response = sales_agent_client.post("/api/v1/loads/L-10042/offers/", payload)
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Offer.objects.exists()
    load.refresh_from_db()
    assert load.status == LoadStatus.AVAILABLE


def test_the_client_cannot_supply_the_rate(sales_agent_client, load, carrier):
    response = offer(sales_agent_client, "L-10042", "123456", "2100.00", loadboard_rate="5000", max_rate="9000")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"loadboard_rate", "max_rate"}
    assert not Offer.objects.exists()
    load.refresh_from_db()
    assert load.loadboard_rate == Decimal("2000.00") and load.max_rate == Decimal("2200.00")
    assert offer(sales_agent_client, "L-10042", "123456", "2100.00").json()["decision"] == "counter"


def test_optional_nulls_mean_not_given(sales_agent_client, load, carrier):
    response = offer(sales_agent_client, "L-10042", "123456", "2000.00", call_id=None)
    assert response.status_code == 200, response.content
    assert Offer.objects.get().call_external_id == ""


def test_offers_are_linked_to_the_call_logged_before_or_after(sales_agent_client, load, carrier):
    call = CallFactory(external_id="vc-1")
    offer(sales_agent_client, "L-10042", "123456", "2600.00", call_id="vc-1")
    assert Offer.objects.get().call == call
    offer(sales_agent_client, "L-10042", "123456", "2500.00", call_id="vc-2")
    logged = sales_agent_client.post(
        "/api/v1/calls/",
        {
            "external_id": "vc-2",
            "mc_number": "123456",
            "load_id": "L-10042",
            "started_at": "2026-11-21T15:00:00Z",
            "duration_seconds": 300,
            "outcome": "rate_not_agreed",
            "sentiment": "neutral",
        },
    )
    assert logged.status_code == 201
    assert [r["round"] for r in logged.json()["rounds"]] == [2]


@pytest.mark.parametrize("role_client", ["dispatcher_client", "member_client"])
def test_only_roles_with_add_offer_may_negotiate(request, load, carrier, role_client):
    assert offer(request.getfixturevalue(role_client), "L-10042", "123456", "2000.00").status_code == 403
    assert Load.objects.get().status == LoadStatus.AVAILABLE


def test_an_offer_round_runs_a_fixed_number_of_queries(
    sales_agent_client, carrier, settings, django_assert_num_queries
):
    settings.API_AUTH_CACHE_SECONDS = 60
    LoadFactory(load_id="L-1", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))
    LoadFactory(load_id="L-2", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))
    rival = CarrierFactory(mc_number="654321")
    offer(sales_agent_client, "L-2", rival.mc_number, "2600.00")  # an open negotiation the booking closes
    offer(sales_agent_client, "L-1", rival.mc_number, "2600.00")  # the token's identity is now cached
    # Reads: the load, the carrier (2). In one savepoint (2): the load locked, the negotiation looked
    # for under it (2), the negotiation and its entry (2), the round and its entry (2), the day's
    # offer totals (1).
    with django_assert_num_queries(11):
        countered = offer(sales_agent_client, "L-1", carrier.mc_number, "2600.00")
    assert countered.json()["decision"] == "counter"
    # Accepting also books the load without reading it again (2: its update and entry), closes the
    # rival's negotiation (4: read for its event, locked, updated, its entry copied from it) and adds
    # to the day's agreements (1). Its events are written in the same transaction (2): load.booked,
    # and negotiation.closed for both negotiations in one INSERT.
    with django_assert_num_queries(20):
        accepted = offer(sales_agent_client, "L-2", carrier.mc_number, "2000.00")
    body = accepted.json()
    assert (body["decision"], body["load_status"]) == ("accept", "booked")
    assert Negotiation.objects.get(load__load_id="L-2", carrier=rival).status == NegotiationStatus.CLOSED
    load = Load.objects.get(load_id="L-2")
    assert (load.version, load.booked_carrier, load.history.count()) == (2, carrier, 2)
