"""What the desk does with its data: negotiations to watch, a carrier's history, follow-ups after
calls, and how negotiations go in the sales metrics."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.carriers.factories import CallFactory, CarrierFactory, LoadFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def offer(client, load_id, mc, amount):
    response = client.post(f"/api/v1/loads/{load_id}/offers/", {"mc_number": mc, "amount": amount})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def negotiated(sales_agent_client):
    """Posted 2000, ceiling 2200, three rounds: A booked in round 1, B rejected in round 3, C
    booked in round 2 at our counter, D still open after one counter (another carrier)."""
    CarrierFactory(mc_number="123456", legal_name="Great Lakes Haulage")
    CarrierFactory(mc_number="654321")
    for load_id in ("A", "B", "C", "D"):
        LoadFactory(load_id=load_id, loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))
    offer(sales_agent_client, "A", "123456", "2000")
    for _ in range(3):
        last = offer(sales_agent_client, "B", "123456", "3000")
    assert last["decision"] == "reject"
    counter = offer(sales_agent_client, "C", "123456", "2400")["counter_amount"]
    assert offer(sales_agent_client, "C", "123456", counter)["decision"] == "accept"
    offer(sales_agent_client, "D", "654321", "2500")


def test_open_negotiations_with_rounds_and_no_ceiling(negotiated, sales_agent_client, django_assert_num_queries):
    with django_assert_num_queries(7):  # token, user, 2 permissions, count, page, rounds
        response = sales_agent_client.get("/api/v1/negotiations/", {"status": "open"})
    assert response.status_code == 200
    [only] = response.json()["results"]
    assert only["load_id"] == "D" and only["mc_number"] == "654321" and only["posted_rate"] == "2000.00"
    assert [(r["round"], r["amount"], r["decision"]) for r in only["rounds"]] == [(1, "2500.00", "counter")]
    assert not re.search(r"(?<!\d)2200(?!\d)", response.content.decode())  # the ceiling never leaks

    every = sales_agent_client.get("/api/v1/negotiations/", {"mc_number": "MC-123456"}).json()["results"]
    assert {n["load_id"]: n["status"] for n in every} == {"A": "booked", "B": "rejected", "C": "booked"}
    assert sales_agent_client.get("/api/v1/negotiations/", {"status": "nope"}).status_code == 400


def test_negotiation_list_queries_do_not_grow(negotiated, manager_client, django_assert_num_queries):
    with django_assert_num_queries(7):
        first = manager_client.get("/api/v1/negotiations/").json()["count"]
    for n in range(5):
        LoadFactory(load_id=f"E{n}", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))
        offer(manager_client, f"E{n}", "654321", "2600")
    with django_assert_num_queries(7):
        assert manager_client.get("/api/v1/negotiations/").json()["count"] == first + 5


def test_negotiation_metrics(negotiated, manager_client):
    body = manager_client.get("/api/v1/metrics/carrier-sales/").json()["negotiation"]
    assert body["offers"] == 7
    # Round 1: A accepted, B, C and D countered; round 2: B countered, C accepted; round 3: B rejected.
    assert body["acceptance_rate_by_round"] == {"1": 0.25, "2": 0.5, "3": 0.0}
    assert body["rejected_at_ceiling_share"] == pytest.approx(0.3333, abs=1e-4)  # 1 of 3 concluded
    assert body["average_first_ask_premium_pct"] == 23.75  # asks 2000, 3000, 2400, 2500: 0, 50, 20, 25 %


def test_carrier_history_with_totals_and_paging(negotiated, manager_client, django_assert_num_queries):
    a = LoadFactory._meta.model.objects.get(load_id="A")
    for minute in range(3):
        CallFactory(mc_number="123456", started_at=timezone.now() - timedelta(minutes=minute), load=a)
    url = "/api/v1/carriers/123456/history/"
    with django_assert_num_queries(12):  # token, user, 2 permissions, carrier, then the history's seven
        body = manager_client.get(url).json()
    assert body["totals"] == {
        "calls": 3,
        "negotiations": 3,
        "bookings": 2,
        "booking_rate": 0.6667,
        "average_premium_pct": pytest.approx(1.5),  # A at posted, C at +3 % (round 1's concession)
    }
    assert [n["load_id"] for n in body["negotiations"]] == ["C", "B", "A"]
    assert {b["load_id"] for b in body["bookings"]} == {"A", "C"}
    assert body["next_before"] is None

    seen, before = [], None
    while True:
        page = manager_client.get(url, {"limit": 2, **({"before": before} if before else {})}).json()
        seen += [c["external_id"] for c in page["calls"]]
        before = page["next_before"]
        if before is None:
            break
    assert len(seen) == len(set(seen)) == 3  # paging neither skips nor repeats a call
    assert manager_client.get("/api/v1/carriers/999999/history/").status_code == 404
    assert manager_client.get(url, {"limit": 0}).status_code == 400


@pytest.fixture
def rep():
    return UserFactory(username="dana")


def test_follow_up_logged_with_the_call_then_listed_and_done(sales_agent_client, rep):
    due = timezone.now() + timedelta(hours=2)
    call = {
        "external_id": "vc-follow-1",
        "started_at": timezone.now().isoformat(),
        "duration_seconds": 180,
        "outcome": "rate_not_agreed",
        "sentiment": "neutral",
        "mc_number": "123456",
        "load_id": None,
        "follow_up": {"due_at": due.isoformat(), "reason": "better_rate", "note": "Wants 2,350", "assigned_to": "dana"},
    }
    created = sales_agent_client.post("/api/v1/calls/", call, format="json")
    assert created.status_code == 201, created.content
    [follow_up] = created.json()["follow_ups"]
    assert follow_up["assigned_to"] == "dana" and follow_up["done"] is False

    from rest_framework.test import APIClient

    dana = APIClient()
    dana.force_authenticate(rep)
    rep.groups.add(*sales_agent_client.user.groups.all())
    mine = dana.get(
        "/api/v1/follow-ups/",
        {"assigned_to": "me", "done": "false", "due_before": (due + timedelta(minutes=1)).isoformat()},
    )
    assert [f["id"] for f in mine.json()["results"]] == [follow_up["id"]]
    assert (
        dana.get("/api/v1/follow-ups/", {"assigned_to": "me", "due_before": timezone.now().isoformat()}).json()[
            "results"
        ]
        == []
    )

    done = dana.post(f"/api/v1/follow-ups/{follow_up['id']}/done/")
    assert done.status_code == 200 and done.json()["done"] is True and done.json()["done_by"] == "dana"
    again = dana.post(f"/api/v1/follow-ups/{follow_up['id']}/done/")
    assert again.status_code == 409 and "already done by dana" in again.json()["detail"]
    assert dana.patch(f"/api/v1/follow-ups/{follow_up['id']}/", {"note": "x"}).status_code == 409
    assert dana.get("/api/v1/follow-ups/", {"assigned_to": "me", "done": "false"}).json()["results"] == []


def test_bad_follow_ups_are_refused_and_nothing_is_logged(sales_agent_client):
    call = {
        "external_id": "vc-follow-2",
        "started_at": timezone.now().isoformat(),
        "duration_seconds": 60,
        "outcome": "carrier_declined",
        "sentiment": "negative",
        "follow_up": {"due_at": "tomorrow", "reason": "whenever", "assigned_to": "nobody"},
    }
    response = sales_agent_client.post("/api/v1/calls/", call, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]["follow_up"]) == {"due_at", "reason", "assigned_to"}
    assert sales_agent_client.get("/api/v1/calls/").json()["results"] == []


def test_overdue_follow_ups_count_in_the_metrics(sales_agent_client, manager_client):
    for hours, external_id in ((-3, "vc-o1"), (-1, "vc-o2"), (5, "vc-o3")):
        sales_agent_client.post(
            "/api/v1/calls/",
            {
                "external_id": external_id,
                "started_at": timezone.now().isoformat(),
                "duration_seconds": 60,
                "outcome": "transferred_to_rep",
                "sentiment": "neutral",
                "follow_up": {"due_at": (timezone.now() + timedelta(hours=hours)).isoformat(), "reason": "documents"},
            },
            format="json",
        )
    assert manager_client.get("/api/v1/metrics/carrier-sales/").json()["overdue_follow_ups"] == 2


def test_follow_up_list_queries_do_not_grow(sales_agent_client, manager_client, rep, django_assert_num_queries):
    def log(n):
        sales_agent_client.post(
            "/api/v1/calls/",
            {
                "external_id": f"vc-q{n}",
                "started_at": timezone.now().isoformat(),
                "duration_seconds": 60,
                "outcome": "transferred_to_rep",
                "sentiment": "neutral",
                "follow_up": {"due_at": timezone.now().isoformat(), "reason": "documents", "assigned_to": "dana"},
            },
            format="json",
        )

    log(0)
    with django_assert_num_queries(6):
        manager_client.get("/api/v1/follow-ups/")
    for n in range(1, 6):
        log(n)
    with django_assert_num_queries(6):
        assert manager_client.get("/api/v1/follow-ups/").json()["count"] == 6


def test_a_follow_up_added_after_the_call(sales_agent_client, rep):
    CallFactory(external_id="vc-later", mc_number="")
    due = (timezone.now() + timedelta(days=1)).isoformat()
    created = sales_agent_client.post(
        "/api/v1/follow-ups/", {"call_id": "vc-later", "due_at": due, "reason": "lane_opens", "assigned_to": "dana"}
    )
    assert created.status_code == 201, created.content
    assert created.json()["call_id"] == "vc-later" and created.json()["assigned_to"] == "dana"
    unknown = sales_agent_client.post("/api/v1/follow-ups/", {"call_id": "vc-nope", "due_at": due, "reason": "other"})
    assert unknown.status_code == 400 and "call_id" in unknown.json()["fields"]
