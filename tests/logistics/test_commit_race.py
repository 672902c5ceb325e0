"""Overlapping decisions committed at the same moment: exactly one wins (PostgreSQL and SQLite)."""

import pytest

from accounts import roles
from logistics import services
from logistics.choices import DecisionStatus, OrderStatus
from logistics.models import Decision, Order, Route
from tests.concurrency import run_at_once
from tests.logistics.conftest import BASE
from tests.logistics.factories import CostModelFactory, HubFactory, OrderFactory, VehicleFactory

THREADS = 4


@pytest.fixture
def proposals(transactional_db):
    hub = HubFactory()
    CostModelFactory()
    for town in ("Nakuru", "Eldoret", "Kitale"):
        OrderFactory(hub=hub, town=town)
    VehicleFactory(home_hub=hub)
    VehicleFactory(home_hub=hub)
    decisions = [services.decision_create(time_limit_seconds=1) for _ in range(THREADS)]
    assert {d.status for d in Decision.objects.all()} == {DecisionStatus.PROPOSED}
    return decisions


@pytest.mark.django_db(transaction=True)
def test_overlapping_decisions_committed_at_once_exactly_one_wins(make_client, proposals):
    clients = [make_client(roles.DISPATCHER) for _ in range(THREADS)]
    responses = run_at_once(
        [lambda c=c, d=d: c.post(f"{BASE}/decisions/{d.pk}/commit/") for c, d in zip(clients, proposals, strict=True)]
    )
    assert not [r for r in responses if isinstance(r, Exception)], responses
    assert sorted(r.status_code for r in responses) == [200] + [409] * (THREADS - 1)
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"state_changed"}
    winner = Decision.objects.get(status=DecisionStatus.COMMITTED)
    assert Route.objects.exclude(decision=winner).count() == 0
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.ASSIGNED}
    assert set(Order.objects.values_list("route__decision", flat=True)) == {winner.pk}


@pytest.mark.django_db(transaction=True)
def test_the_same_decision_committed_by_many_at_once_applies_once(make_client, proposals):
    decision = proposals[0]
    clients = [make_client(roles.DISPATCHER) for _ in range(THREADS)]
    responses = run_at_once([lambda c=c: c.post(f"{BASE}/decisions/{decision.pk}/commit/") for c in clients])
    assert not [r for r in responses if isinstance(r, Exception)], responses
    assert sorted(r.status_code for r in responses) == [200] + [409] * (THREADS - 1)
    assert Route.objects.count() == len(Decision.objects.get(pk=decision.pk).plan["routes"])
