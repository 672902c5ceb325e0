from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts import roles
from carriers.models import Call
from tests.carriers.factories import CallFactory, CarrierFactory, LoadFactory
from tests.concurrency import run_at_once

CALLS = "/api/v1/calls/"


def call_payload(**overrides):
    data = {
        "external_id": "vc-2026-11-21-0001",
        "mc_number": "MC-123456",
        "load_id": "L-10042",
        "started_at": "2026-11-21T15:04:00Z",
        "duration_seconds": 312,
        "outcome": "booked",
        "sentiment": "positive",
        "summary": "Verified, agreed at 2100, booked.",
        "transcript": "Agent: Thanks for calling...",
        "extracted": {"equipment": "dry van", "asked_rate": 2150},
    }
    data.update(overrides)
    return data


@pytest.fixture
def load(db):
    return LoadFactory(load_id="L-10042")


@pytest.mark.django_db
def test_logging_a_call(sales_agent_client, load):
    carrier = CarrierFactory(mc_number="123456")
    response = sales_agent_client.post(CALLS, call_payload())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mc_number"] == "123456" and body["load_id"] == "L-10042" and body["rounds"] == []
    assert body["extracted"] == {"equipment": "dry van", "asked_rate": 2150}
    call = Call.objects.get()
    assert call.carrier == carrier and call.load == load and call.created_by == sales_agent_client.user


@pytest.mark.django_db
def test_logging_the_same_call_again_returns_the_stored_one(sales_agent_client, load):
    first = sales_agent_client.post(CALLS, call_payload())
    again = sales_agent_client.post(CALLS, call_payload(summary="A different summary", outcome="abandoned"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["outcome"] == "booked"
    assert Call.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_logs_of_one_call_store_it_once(make_client):
    LoadFactory(load_id="L-10042")
    clients = [make_client(roles.SALES_AGENT) for _ in range(6)]
    responses = run_at_once([lambda client=client: client.post(CALLS, call_payload()) for client in clients])
    statuses = [response.status_code for response in responses]
    assert sorted(statuses) == [200] * 5 + [201]
    assert Call.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"outcome": "won"}, "outcome"),
        ({"sentiment": "ecstatic"}, "sentiment"),
        ({"summary": "nul\x00here"}, "summary"),
        ({"transcript": "nul\x00here"}, "transcript"),
        ({"extracted": {"k": "v\x00"}}, "extracted"),
        ({"extracted": {"k\x00": "v"}}, "extracted"),
        ({"extracted": ["not", "an", "object"]}, "extracted"),
        ({"duration_seconds": -1}, "duration_seconds"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"external_id": ""}, "external_id"),
        ({"external_id": "x" * 101}, "external_id"),
        ({"mc_number": "MC-ABC"}, "mc_number"),
        ({"load_id": "L-404"}, "load_id"),
    ],
)
def test_bad_calls_are_400_with_field_messages(sales_agent_client, load, overrides, field):
    response = sales_agent_client.post(CALLS, call_payload(**overrides), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not Call.objects.exists()


@pytest.mark.django_db
def test_a_call_without_load_or_mc_is_fine(sales_agent_client):
    payload = call_payload(outcome="abandoned", sentiment="negative")
    del payload["load_id"], payload["mc_number"]
    response = sales_agent_client.post(CALLS, payload)
    assert response.status_code == 201 and response.json()["load_id"] is None


@pytest.mark.django_db
def test_calls_are_append_only(manager_client):
    call = CallFactory()
    assert manager_client.patch(f"{CALLS}{call.pk}/", {"summary": "x"}).status_code == 405
    assert manager_client.put(f"{CALLS}{call.pk}/", call_payload()).status_code == 405
    assert manager_client.delete(f"{CALLS}{call.pk}/").status_code == 405


@pytest.mark.django_db
def test_forum_members_neither_read_nor_log_calls(member_client):
    CallFactory()
    assert member_client.get(CALLS).status_code == 403
    assert member_client.post(CALLS, call_payload(load_id="")).status_code == 403


@pytest.mark.django_db
def test_list_filters(sales_agent_client):
    now = timezone.now()
    CallFactory(external_id="a", outcome="booked", sentiment="positive", mc_number="123456", started_at=now)
    CallFactory(
        external_id="b",
        outcome="abandoned",
        sentiment="negative",
        mc_number="789012",
        started_at=now - timedelta(days=3),
    )

    def ids(**params):
        response = sales_agent_client.get(CALLS, params)
        assert response.status_code == 200, response.content
        return [row["external_id"] for row in response.json()["results"]]

    assert ids() == ["a", "b"]  # newest first
    assert ids(outcome="abandoned") == ["b"]
    assert ids(sentiment="positive") == ["a"]
    assert ids(mc_number="MC 789012") == ["b"]
    assert ids(started_from=(now - timedelta(days=1)).isoformat()) == ["a"]
    assert ids(started_to=(now - timedelta(days=1)).isoformat()) == ["b"]
    assert sales_agent_client.get(CALLS, {"outcome": "won"}).status_code == 400
    assert sales_agent_client.get(CALLS, {"mc_number": "MC-X"}).status_code == 400


@pytest.mark.django_db
def test_list_pages_with_a_cursor(sales_agent_client):
    for _ in range(5):
        CallFactory()
    first = sales_agent_client.get(CALLS, {"page_size": 3}).json()
    assert len(first["results"]) == 3 and first["next"] and "count" not in first
    assert len(sales_agent_client.get(first["next"]).json()["results"]) == 2


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_rows(sales_agent_client, django_assert_num_queries):
    load = LoadFactory()
    CallFactory(load=load, carrier=CarrierFactory())
    # Token and user (2), permissions (2), the page with loads and carriers joined (1).
    with django_assert_num_queries(5):
        assert len(sales_agent_client.get(CALLS).json()["results"]) == 1
    for _ in range(10):
        CallFactory(load=LoadFactory(), carrier=CarrierFactory())
    with django_assert_num_queries(5):
        assert len(sales_agent_client.get(CALLS).json()["results"]) == 11


@pytest.mark.django_db
def test_detail_shows_the_negotiation_rounds(sales_agent_client):
    LoadFactory(load_id="L-7", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))
    CarrierFactory(mc_number="123456")
    call = CallFactory(external_id="vc-7")
    for amount in ("2600.00", "2060.00"):  # the second takes our counter (3 % over posted)
        sales_agent_client.post(
            "/api/v1/loads/L-7/offers/", {"mc_number": "123456", "amount": amount, "call_id": "vc-7"}
        )
    rounds = sales_agent_client.get(f"{CALLS}{call.pk}/").json()["rounds"]
    assert [(r["round"], r["decision"], r["load_id"], r["mc_number"]) for r in rounds] == [
        (1, "counter", "L-7", "123456"),
        (2, "accept", "L-7", "123456"),
    ]


@pytest.mark.django_db
def test_the_logged_call_is_answered_as_its_detail_shows_it(sales_agent_client, django_assert_num_queries, settings):
    settings.API_AUTH_CACHE_SECONDS = 60
    LoadFactory(load_id="L-7", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))
    CarrierFactory(mc_number="123456")
    sales_agent_client.get(CALLS)  # the token's identity is now cached
    # Rounds made during the call, before it is logged, are linked to it.
    sales_agent_client.post(
        "/api/v1/loads/L-7/offers/", {"mc_number": "123456", "amount": "2600.00", "call_id": "vc-7"}
    )
    payload = call_payload(
        external_id="vc-7",
        mc_number="123456",
        load_id="L-7",
        started_at="2026-11-21T09:04:00-06:00",
        follow_up={"due_at": "2026-11-23T15:00:00Z", "reason": "better_rate", "note": "Call back"},
    )
    # Reads: call, load, carrier (3). Written in one savepoint (2): the call and its entry (2),
    # the round linked with its entry (3: found, updated, entry copied), the day's totals (2, one
    # upsert each), the follow-up and its entry (2). Then its rounds and follow-ups for the answer
    # (2): the call itself is not read again. Plus its call.logged event (1), written in the same transaction.
    with django_assert_num_queries(17):
        logged = sales_agent_client.post(CALLS, payload, format="json")
    assert logged.status_code == 201, logged.content
    body = logged.json()
    assert body["started_at"] == "2026-11-21T15:04:00Z" and body["created_by"] == sales_agent_client.user.username
    assert [r["round"] for r in body["rounds"]] == [1] and body["follow_ups"][0]["note"] == "Call back"
    with django_assert_num_queries(3):  # the call with its load, carrier and authors; rounds; follow-ups
        detail = sales_agent_client.get(f"{CALLS}{body['id']}/").json()
    assert body == detail
    again = sales_agent_client.post(CALLS, payload, format="json")
    assert again.status_code == 200 and again.json() == detail


@pytest.mark.django_db
def test_a_call_without_rounds_or_follow_up_is_answered_without_reading_them(
    sales_agent_client, django_assert_num_queries, settings
):
    settings.API_AUTH_CACHE_SECONDS = 60
    LoadFactory(load_id="L-8")
    CarrierFactory(mc_number="123456")
    sales_agent_client.get(CALLS)  # the token's identity is now cached
    payload = call_payload(external_id="vc-8", mc_number="123456", load_id="L-8")
    # Reads: call, load, carrier (3). In one savepoint (2): the call and its entry (2), the look for
    # rounds to link (1), the day's totals (2), its call.logged event (1, written in the same transaction).
    # Nothing is read for the answer.
    with django_assert_num_queries(11):
        logged = sales_agent_client.post(CALLS, payload, format="json")
    assert logged.status_code == 201, logged.content
    body = logged.json()
    assert body["rounds"] == [] and body["follow_ups"] == []
    assert body == sales_agent_client.get(f"{CALLS}{body['id']}/").json()


@pytest.mark.django_db
def test_optional_nulls_are_taken_as_not_given(sales_agent_client):
    # What voice platforms send when no load was discussed and no MC was given.
    payload = call_payload(load_id=None, mc_number=None, summary=None, extracted=None)
    response = sales_agent_client.post(CALLS, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["load_id"], body["mc_number"], body["summary"], body["extracted"]) == (None, "", "", {})


@pytest.mark.django_db
def test_a_field_the_endpoint_does_not_know_is_named_in_a_400(sales_agent_client, load):
    response = sales_agent_client.post(CALLS, call_payload(load_number="L-10042"), format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"load_number"}
    assert not Call.objects.exists()
