"""Many carriers accepting the same load at the same moment: exactly one booking."""

from decimal import Decimal

import pytest

from accounts import roles
from carriers.choices import LoadStatus, NegotiationStatus
from carriers.models import Load, Negotiation, Offer
from tests.carriers.factories import CarrierFactory, LoadFactory
from tests.concurrency import run_at_once

THREADS = 8


@pytest.mark.django_db(transaction=True)
def test_only_one_of_many_simultaneous_accepts_books_the_load(make_client):
    load = LoadFactory(load_id="L-RACE", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))
    carriers = [CarrierFactory(mc_number=str(500000 + i)) for i in range(THREADS)]
    clients = [make_client(roles.SALES_AGENT) for _ in range(THREADS)]

    def accept(client, carrier):
        return lambda: client.post(
            "/api/v1/loads/L-RACE/offers/", {"mc_number": carrier.mc_number, "amount": "2000.00"}
        )

    responses = run_at_once([accept(c, k) for c, k in zip(clients, carriers, strict=True)])
    assert all(not isinstance(r, Exception) for r in responses), responses
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * (THREADS - 1), codes
    winner = next(r for r in responses if r.status_code == 200).json()
    assert winner["decision"] == "accept" and winner["load_status"] == "booked"
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"load_not_available"}

    load = Load.objects.get(pk=load.pk)
    assert load.status == LoadStatus.BOOKED and load.version == 2
    assert Negotiation.objects.filter(status=NegotiationStatus.BOOKED).count() == 1
    assert Offer.objects.filter(decision="accept").count() == 1
    assert Negotiation.objects.get(status=NegotiationStatus.BOOKED).carrier == load.booked_carrier


@pytest.mark.django_db(transaction=True)
def test_one_carrier_sending_rounds_in_parallel_gets_them_serialised(make_client):
    LoadFactory(load_id="L-SERIAL", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))
    carrier = CarrierFactory(mc_number="600000")
    clients = [make_client(roles.SALES_AGENT) for _ in range(5)]

    def ask(client):
        return lambda: client.post("/api/v1/loads/L-SERIAL/offers/", {"mc_number": carrier.mc_number, "amount": "3000"})

    responses = run_at_once([ask(c) for c in clients])
    assert all(not isinstance(r, Exception) for r in responses), responses
    codes = sorted(r.status_code for r in responses)
    # Three rounds at most (two counters then a reject); the rest are refused.
    assert codes == [200, 200, 200, 409, 409], codes
    negotiation = Negotiation.objects.get()
    assert negotiation.rounds_used == 3 and negotiation.status == NegotiationStatus.REJECTED
    assert sorted(negotiation.offers.values_list("round", flat=True)) == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_accepts_from_carriers_already_negotiating_book_once_without_deadlock(make_client):
    load = LoadFactory(load_id="L-RACE", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))
    carriers = [CarrierFactory(mc_number=str(700000 + i)) for i in range(THREADS)]
    for carrier in carriers:  # each has countered before: their negotiations are committed rows
        Negotiation.objects.create(load=load, carrier=carrier, rounds_used=1, last_counter=Decimal("2050.00"))
    clients = [make_client(roles.SALES_AGENT) for _ in range(THREADS)]

    def accept(client, carrier):
        return lambda: client.post(
            "/api/v1/loads/L-RACE/offers/", {"mc_number": carrier.mc_number, "amount": "2000.00"}
        )

    responses = run_at_once([accept(c, k) for c, k in zip(clients, carriers, strict=True)])
    assert all(not isinstance(r, Exception) for r in responses), responses
    assert sorted(r.status_code for r in responses) == [200] + [409] * (THREADS - 1)
    statuses = sorted(Negotiation.objects.values_list("status", flat=True))
    assert statuses == [NegotiationStatus.BOOKED] + [NegotiationStatus.CLOSED] * (THREADS - 1)
