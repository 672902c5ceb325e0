"""Every event type is published by the service where its change happens, in the change's transaction, with the
payload its serializer documents; a refused change publishes nothing; no payload can carry a load's ceiling."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from drf_spectacular.drainage import get_override

from accounts import roles
from carriers import services as carrier_services
from carriers.choices import FollowUpReason, LoadStatus, NegotiationStatus
from carriers.models import FollowUp, Load, Negotiation
from carriers.tasks import announce_due_follow_ups
from community import services as community_services
from core import clock
from core.context import acting_as
from core.errors import Conflict, Forbidden, Invalid
from core.services import object_delete, object_restore
from events.models import Event
from events.payloads import PAYLOAD_SERIALIZERS
from events.types import TYPES
from logistics import services as logistics_services
from logistics.choices import DecisionStatus
from logistics.models import Route
from logistics.tasks import solve_decision
from registry import services as registry_services
from registry.choices import ServiceStatus
from tests.carriers.factories import CallFactory, CarrierFactory, LoadFactory, load_payload
from tests.community.factories import PostFactory, ReplyFactory
from tests.factories import UserFactory
from tests.logistics.factories import CostModelFactory, HubFactory, OrderFactory, VehicleFactory
from tests.registry.factories import ServiceFactory

pytestmark = pytest.mark.django_db

# Keys that would give a reader the broker's ceiling or the negotiation's reasoning, or a member's address.
FORBIDDEN_KEYS = {"max_rate", "ceiling", "ceiling_rate", "last_counter", "counter_amount", "email"}


def carries(payloads, amount: str) -> bool:
    """Whether any value of the payloads (nested too) is ``amount``: compared value by value, since the text of a
    payload may hold the same digits by chance (a timestamp's microseconds)."""
    if isinstance(payloads, dict):
        return any(carries(value, amount) for value in payloads.values())
    if isinstance(payloads, list | tuple):
        return any(carries(value, amount) for value in payloads)
    return payloads is not None and str(payloads) in (amount, amount.removesuffix(".00"))


def published(event_type: str) -> list[Event]:
    return list(Event.objects.filter(type=event_type).order_by("id"))


def only(event_type: str) -> Event:
    [event] = published(event_type)
    return event


def assert_documented(event: Event) -> dict:
    """The payload has exactly its serializer's fields, and each value passes the field."""
    serializer = PAYLOAD_SERIALIZERS[event.type](data=event.payload)
    assert set(event.payload) == set(serializer.fields), event.type
    assert serializer.is_valid(), (event.type, serializer.errors)
    assert not FORBIDDEN_KEYS & set(event.payload)
    return event.payload


def assert_about(event: Event, obj) -> None:
    assert (event.object_type, event.object_id) == (obj._meta.label_lower, str(obj.pk))


# --- The payload contract ---------------------------------------------------------------------


def test_every_type_has_a_payload_serializer_registered_as_a_component():
    assert set(PAYLOAD_SERIALIZERS) == set(TYPES)
    names = {get_override(serializer, "component_name") for serializer in PAYLOAD_SERIALIZERS.values()}
    assert len(names) == len(TYPES) and all(name.startswith("EventPayload") for name in names)
    assert get_override(PAYLOAD_SERIALIZERS["load.booked"], "component_name") == "EventPayloadLoadBooked"


def test_no_payload_of_any_type_has_a_ceiling_or_an_address_field():
    for event_type, serializer in PAYLOAD_SERIALIZERS.items():
        fields = set(serializer().fields)
        assert not FORBIDDEN_KEYS & fields, event_type
        assert not any("ceiling" in name or "max_rate" in name or "email" in name for name in fields), event_type
        assert all(field.help_text or name for name, field in serializer().fields.items())


# --- Loads, negotiations --------------------------------------------------------------------


def _load_fields(load_id: str, **fields) -> dict:
    body = load_payload(load_id, **fields)
    for name in ("pickup_datetime", "delivery_datetime"):
        body[name] = clock.now() + timedelta(days=2 if name == "pickup_datetime" else 3)
    body["loadboard_rate"] = Decimal(body["loadboard_rate"])
    return body


def test_posting_a_load_publishes_load_posted_without_its_ceiling():
    load = carrier_services.load_create(**_load_fields("L-1", max_rate=Decimal("2400.00")))
    event = only("load.posted")
    assert_about(event, load)
    payload = assert_documented(event)
    assert (payload["id"], payload["load_id"], payload["loadboard_rate"]) == (str(load.pk), "L-1", "2000.00")
    assert not carries(payload, "2400.00")


def test_a_refused_load_publishes_nothing():
    carrier_services.load_create(**_load_fields("L-1"))
    with pytest.raises(Invalid):
        carrier_services.load_create(**_load_fields("L-1"))  # the load ID is taken
    assert len(published("load.posted")) == 1


def test_the_import_publishes_one_load_posted_per_load():
    rows = [(line, _load_fields(f"L-{line}", max_rate=Decimal("2500.00"))) for line in range(2, 12)]
    assert carrier_services.loads_import(loads=rows) == 10
    events = published("load.posted")
    loads = {str(pk): load_id for pk, load_id in Load.objects.values_list("pk", "load_id")}
    assert {event.object_id: event.payload["load_id"] for event in events} == loads
    for event in events:
        assert event.object_type == "carriers.load"
        assert assert_documented(event)["status"] == LoadStatus.AVAILABLE
        assert "max_rate" not in event.payload and not carries(event.payload, "2500.00")


def test_an_import_refused_publishes_nothing():
    rows = [(2, _load_fields("L-2")), (3, _load_fields("L-2"))]
    with pytest.raises(Invalid):
        carrier_services.loads_import(loads=rows)
    assert not Event.objects.exists()


@pytest.fixture
def load():
    return LoadFactory(load_id="L-10042", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))


def test_a_booking_publishes_load_booked_and_closes_every_negotiation_on_the_load(load):
    carrier, rival = CarrierFactory(mc_number="123456"), CarrierFactory(mc_number="654321")
    carrier_services.offer_make(load_id=load.load_id, mc_number=rival.mc_number, amount=Decimal("2600.00"))
    assert not Event.objects.exists()  # a counter ends nothing
    result = carrier_services.offer_make(load_id=load.load_id, mc_number=carrier.mc_number, amount=Decimal("2000.00"))

    booked = only("load.booked")
    assert_about(booked, load)
    assert assert_documented(booked) | {"booked_at": None} == {
        "id": str(load.pk),
        "load_id": "L-10042",
        "carrier_id": str(carrier.pk),
        "mc_number": "123456",
        "agreed_rate": "2000.00",
        "loadboard_rate": "2000.00",
        "negotiation_id": str(result.negotiation.pk),
        "booked_at": None,
    }
    assert booked.payload["booked_at"]
    closed = {event.payload["mc_number"]: event for event in published("negotiation.closed")}
    assert set(closed) == {"123456", "654321"}
    assert_about(closed["123456"], result.negotiation)
    assert assert_documented(closed["123456"])["status"] == NegotiationStatus.BOOKED
    assert closed["123456"].payload["agreed_rate"] == "2000.00"
    rival_negotiation = Negotiation.objects.get(carrier=rival)
    assert_about(closed["654321"], rival_negotiation)
    assert assert_documented(closed["654321"])["status"] == NegotiationStatus.CLOSED
    assert closed["654321"].payload["agreed_rate"] is None
    assert not carries([event.payload for event in Event.objects.all()], "2200.00")


def test_a_booking_that_loses_publishes_nothing(load):
    first, second = CarrierFactory(), CarrierFactory()
    carrier_services.offer_make(load_id=load.load_id, mc_number=first.mc_number, amount=Decimal("2000.00"))
    before = Event.objects.count()
    with pytest.raises(Conflict):
        carrier_services.offer_make(load_id=load.load_id, mc_number=second.mc_number, amount=Decimal("2000.00"))
    assert Event.objects.count() == before


def test_a_rejected_offer_closes_the_negotiation(load):
    carrier = CarrierFactory()
    carrier_services.offer_make(load_id=load.load_id, mc_number=carrier.mc_number, amount=Decimal("2600.00"))
    carrier_services.offer_make(load_id=load.load_id, mc_number=carrier.mc_number, amount=Decimal("2600.00"))
    carrier_services.offer_make(load_id=load.load_id, mc_number=carrier.mc_number, amount=Decimal("2600.00"))
    event = only("negotiation.closed")
    payload = assert_documented(event)
    assert (payload["status"], payload["rounds_used"], payload["agreed_rate"]) == ("rejected", 3, None)
    assert not published("load.booked")


def test_a_status_change_publishes_load_status_changed(load):
    carrier = CarrierFactory(mc_number="777777")
    carrier_services.offer_make(load_id=load.load_id, mc_number=carrier.mc_number, amount=Decimal("2000.00"))
    load.refresh_from_db()
    carrier_services.load_update(load=load, status=LoadStatus.IN_TRANSIT)
    event = only("load.status_changed")
    assert_about(event, load)
    payload = assert_documented(event)
    assert (payload["previous_status"], payload["status"], payload["mc_number"]) == ("booked", "in_transit", "777777")


def test_a_refused_status_change_and_an_edit_publish_nothing(load):
    with pytest.raises(Invalid):
        carrier_services.load_update(load=load, status=LoadStatus.DELIVERED)  # not from available
    carrier_services.load_update(load=load, notes="Call before arrival.")  # no status change
    assert not Event.objects.exists()


# --- Calls and follow-ups -------------------------------------------------------------------


def test_logging_a_call_publishes_call_logged_once(load):
    due = clock.now() + timedelta(days=1)
    logged = carrier_services.call_log(
        external_id="vc-1",
        started_at=clock.now(),
        duration_seconds=120,
        outcome="booked",
        sentiment="positive",
        mc_number="123456",
        load_id=load.load_id,
        follow_up={"due_at": due, "reason": FollowUpReason.CARRIER_BUSY},
    )
    event = only("call.logged")
    assert_about(event, logged.call)
    payload = assert_documented(event)
    assert (payload["external_id"], payload["load_id"], payload["load_pk"]) == ("vc-1", load.load_id, str(load.pk))
    assert payload["follow_up_ids"] == [str(FollowUp.objects.get().pk)]
    again = carrier_services.call_log(
        external_id="vc-1", started_at=clock.now(), duration_seconds=1, outcome="booked", sentiment="positive"
    )
    assert not again.created and len(published("call.logged")) == 1


def test_a_call_refused_publishes_nothing():
    with pytest.raises(Invalid):
        carrier_services.call_log(
            external_id="vc-2",
            started_at=clock.now(),
            duration_seconds=1,
            outcome="booked",
            sentiment="positive",
            load_id="L-NOPE",
        )
    assert not Event.objects.exists()


def _follow_up(due_at, **fields):
    return carrier_services.follow_up_create(
        call=CallFactory(), due_at=due_at, reason=FollowUpReason.CARRIER_BUSY, **fields
    )


def test_a_follow_up_is_announced_due_once_when_its_time_passes():
    rep = UserFactory(username="rep1", roles=[roles.SALES_AGENT])
    now = clock.now()
    overdue = _follow_up(now - timedelta(minutes=5), assigned_to=rep)
    later = _follow_up(now + timedelta(hours=1))
    done = _follow_up(now - timedelta(hours=1))
    FollowUp.objects.filter(pk=done.pk).update(done_at=now)
    Event.objects.all().delete()  # the calls' own events

    assert announce_due_follow_ups.delay().get() == 1
    event = only("follow_up.due")
    assert_about(event, overdue)
    payload = assert_documented(event)
    assert (payload["id"], payload["assigned_to"], payload["call_external_id"]) == (
        str(overdue.pk),
        "rep1",
        overdue.call.external_id,
    )
    assert FollowUp.objects.get(pk=overdue.pk).due_announced_at is not None
    assert carrier_services.follow_ups_announce_due() == 0  # once
    assert carrier_services.follow_ups_announce_due(now=now + timedelta(hours=2)) == 1  # the later one, in its time
    assert {e.object_id for e in published("follow_up.due")} == {str(overdue.pk), str(later.pk)}


def test_a_rescheduled_follow_up_is_announced_again_at_its_new_time():
    now = clock.now()
    follow_up = _follow_up(now - timedelta(minutes=1))
    assert carrier_services.follow_ups_announce_due() == 1
    carrier_services.follow_up_update(follow_up=follow_up, due_at=now + timedelta(hours=1))
    assert carrier_services.follow_ups_announce_due() == 0
    assert carrier_services.follow_ups_announce_due(now=now + timedelta(hours=2)) == 1
    assert len(published("follow_up.due")) == 2


def test_the_announcer_is_on_beat_every_minute():
    from django_celery_beat.models import PeriodicTask

    job = PeriodicTask.objects.get(task="carriers.announce_due_follow_ups")
    assert job.enabled and (job.interval.every, job.interval.period) == (1, "minutes")


# --- Decisions and routes -------------------------------------------------------------------


@pytest.fixture
def dispatch(django_capture_on_commit_callbacks):
    """Two orders and a vehicle at one hub, and a way to run the queued solve (eager Celery, on commit)."""
    hub = HubFactory()
    CostModelFactory()
    OrderFactory(hub=hub, town="Nakuru")
    OrderFactory(hub=hub, town="Nakuru")
    VehicleFactory(home_hub=hub)

    def solve(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return logistics_services.decision_create(time_limit_seconds=1, **kwargs)

    return solve


def test_a_solve_publishes_decision_proposed_and_a_commit_decision_committed(dispatch):
    decision = dispatch()
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PROPOSED
    proposed = only("decision.proposed")
    assert_about(proposed, decision)
    assert assert_documented(proposed)["orders_routed"] == 2

    logistics_services.decision_commit(decision=decision)
    committed = only("decision.committed")
    assert_about(committed, decision)
    route = Route.objects.get()
    assert assert_documented(committed)["route_ids"] == [str(route.pk)]
    with pytest.raises(Conflict):
        logistics_services.decision_commit(decision=decision)  # refused: already committed
    assert len(published("decision.committed")) == 1


def test_a_decision_whose_worker_stopped_publishes_decision_failed(dispatch, monkeypatch):
    monkeypatch.setattr(solve_decision, "delay", lambda *args, **kwargs: None)  # queued, never taken
    decision = dispatch()
    [failed] = logistics_services.decisions_fail_stuck(now=clock.now() + timedelta(days=1))
    event = only("decision.failed")
    assert_about(event, failed)
    assert assert_documented(event)["failure_reason"] == failed.failure_reason
    assert not published("decision.proposed") and decision.pk == failed.pk


def test_starting_and_completing_a_route_publish_their_events(dispatch):
    decision = dispatch()
    logistics_services.decision_commit(decision=decision)
    route = Route.objects.get()
    with pytest.raises(Conflict):
        logistics_services.route_complete(
            route=route, actual_distance_km=1, actual_duration_min=1, actual_cost_kes=1, revenue_kes=1, results={}
        )
    assert not published("route.completed")

    logistics_services.route_start(route=route)
    started = only("route.started")
    assert_about(started, route)
    assert assert_documented(started)["orders_in_transit"] == 2

    results = {reference: "on_time" for reference in route.orders.values_list("reference", flat=True)}
    outcome = logistics_services.route_complete(
        route=route,
        actual_distance_km=route.distance_km,
        actual_duration_min=route.duration_min,
        actual_cost_kes=route.cost_kes,
        revenue_kes=Decimal("160000"),
        results=results,
    )
    completed = only("route.completed")
    assert_about(completed, route)
    payload = assert_documented(completed)
    assert (payload["outcome_id"], payload["on_time"], payload["failed"]) == (str(outcome.pk), 2, 0)


# --- Registry -------------------------------------------------------------------------------


def test_registering_updating_and_deregistering_a_service_publish_their_events():
    service = registry_services.service_create(name="search", tags=["mcp"])
    registered = only("registry.service.registered")
    assert_about(registered, service)
    assert assert_documented(registered)["tags"] == ["mcp"]

    registry_services.service_update(service=service, description="Finds things.", tags=["mcp", "search"])
    updated = only("registry.service.updated")
    assert_about(updated, service)
    assert assert_documented(updated)["changed"] == ["description", "tags"]
    registry_services.service_update(service=service, description="Finds things.")  # nothing changes
    with pytest.raises(Invalid):
        registry_services.service_update(service=service, port=70000)
    assert len(published("registry.service.updated")) == 1

    object_delete(instance=service)
    deregistered = only("registry.service.deregistered")
    assert_about(deregistered, service)
    assert assert_documented(deregistered)["name"] == "search"
    object_restore(instance=service)
    restored = published("registry.service.registered")[-1]
    assert assert_documented(restored)["restored"] is True


def test_health_changed_is_published_only_when_the_status_flips():
    service = ServiceFactory(name="api")
    for _ in range(6):
        service = registry_services.service_record_health(service=service, passing=True)
    assert service.status == ServiceStatus.HEALTHY
    event = only("registry.service.health_changed")
    assert_about(event, service)
    payload = assert_documented(event)
    assert (payload["previous_status"], payload["status"]) == ("unknown", "healthy")
    for _ in range(6):
        service = registry_services.service_record_health(service=service, passing=False)
    assert [e.payload["status"] for e in published("registry.service.health_changed")] == ["healthy", "unhealthy"]


# --- Community ------------------------------------------------------------------------------


def test_a_reply_publishes_reply_created_without_its_author_or_address():
    post = PostFactory()
    author = UserFactory(email="writer@example.com")
    with acting_as(author):
        reply = community_services.reply_create(post=post, body="Try the reefer lane.")
    event = only("community.reply.created")
    assert_about(event, reply)
    assert event.actor == author
    payload = assert_documented(event)
    assert (payload["post_id"], payload["parent_id"]) == (str(post.pk), None)
    assert "example.com" not in str(payload) and author.username not in str(payload)


def test_a_reply_refused_publishes_nothing():
    post = PostFactory(status="closed")
    with pytest.raises(Conflict):
        community_services.reply_create(post=post, body="Too late.", author=UserFactory())
    assert not Event.objects.exists()


def test_choosing_a_best_answer_publishes_it_with_the_one_it_replaced():
    post = PostFactory()
    first, second = ReplyFactory(post=post), ReplyFactory(post=post)
    with acting_as(post.author):
        community_services.post_set_best_answer(post=post, reply=first)
        community_services.post_set_best_answer(post=post, reply=second)
    events = published("community.best_answer.chosen")
    assert [e.payload["reply_id"] for e in events] == [str(first.pk), str(second.pk)]
    assert events[1].payload["previous_reply_id"] == str(first.pk)
    for event in events:
        assert_about(event, post)
        assert_documented(event)
    with acting_as(UserFactory(roles=[roles.MEMBER])), pytest.raises(Forbidden):
        community_services.post_set_best_answer(post=post, reply=first)
    assert len(published("community.best_answer.chosen")) == 2


# --- Through the API, committed and numbered ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_load_booked_through_the_api_has_its_events_committed_and_numbered(sales_agent_client):
    load = LoadFactory(load_id="L-7", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2300.00"))
    carrier = CarrierFactory(mc_number="424242")
    response = sales_agent_client.post(
        "/api/v1/loads/L-7/offers/", {"mc_number": carrier.mc_number, "amount": "2000.00"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["load_status"] == "booked"
    booked, closed = only("load.booked"), only("negotiation.closed")
    assert (booked.object_id, booked.actor, booked.payload["mc_number"]) == (
        str(load.pk),
        sales_agent_client.user,
        "424242",
    )
    assert closed.payload["status"] == NegotiationStatus.BOOKED
    assert booked.sequence is not None and closed.sequence is not None  # numbered after the commit
    assert not carries([booked.payload, closed.payload], "2300.00")


@pytest.mark.django_db(transaction=True)
def test_a_change_rolled_back_after_publishing_leaves_no_event():
    class Refused(Exception):
        pass

    with pytest.raises(Refused), transaction.atomic():
        carrier_services.load_create(**_load_fields("L-9"))
        raise Refused
    assert not Event.objects.exists() and not Load.objects.exists()


def test_docs_show_every_type_with_an_example_its_serializer_accepts():
    import json
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()
    examples = dict(re.findall(r"### `([a-z_.]+)`\n.*?```json\n(.*?)```", text, re.S))
    assert set(examples) == set(TYPES)
    for event_type, example in examples.items():
        data = json.loads(example)
        serializer = PAYLOAD_SERIALIZERS[event_type](data=data)
        assert set(data) == set(serializer.fields) and serializer.is_valid(), (event_type, serializer.errors)
