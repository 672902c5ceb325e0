import json
import re
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from carriers import rollups
from carriers.choices import LookupOutcome, NegotiationStatus, OfferDecision
from carriers.models import Negotiation, Offer, VerificationLookup
from registry.choices import Priority, ServiceStatus
from tests.carriers.factories import CallFactory, CarrierFactory, LoadFactory
from tests.factories import UserFactory
from tests.registry.factories import DependencyFactory, ServiceFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _clear_cache():
    """Runtime settings live in the cache; start every test clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def signed_in(client):
    """``signed_in(role)`` → the Django test client signed in as a new user with that role."""

    def _sign_in(*roles, **fields):
        user = UserFactory(roles=list(roles), **fields)
        client.force_login(user)
        client.user = user
        return client

    return _sign_in


def at(day, hour=12, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


def make_sales_data(*, today=None, extra_calls=0):
    """Calls today, two days ago, twenty days ago and sixty days ago; two agreements; two
    negotiations still open. ``extra_calls`` adds that many more booked calls today."""
    today = today or timezone.localdate()
    good = CarrierFactory(mc_number="123456", legal_name="Great Lakes Haulage LLC")
    refused = CarrierFactory(mc_number="999999", ineligible=True, legal_name="Desert Wind Carriers")
    lapsed = CarrierFactory(
        mc_number="888888",
        eligible=False,
        ineligibility_reasons=["out_of_service", "insurance_missing"],
        legal_name="Old Route Freight",
    )
    chicago = LoadFactory(load_id="L-1", loadboard_rate=Decimal("2000.00"))
    atlanta = LoadFactory(
        load_id="L-2",
        origin_city="Atlanta",
        origin_state="GA",
        destination_city="Miami",
        destination_state="FL",
        equipment_type="reefer",
        loadboard_rate=Decimal("1000.00"),
    )
    open_one = LoadFactory(load_id="L-3", origin_city="Denver", origin_state="CO", loadboard_rate=Decimal("1500.00"))
    open_two = LoadFactory(load_id="L-4", equipment_type="flatbed", loadboard_rate=Decimal("2500.00"))

    two_days_ago = today - timedelta(days=2)
    CallFactory(external_id="c-1", started_at=at(today, 9), outcome="booked", carrier=good, load=chicago)
    CallFactory(
        external_id="c-2",
        started_at=at(today, 10),
        outcome="rate_not_agreed",
        sentiment="negative",
        mc_number="",  # the caller never gave an MC number
        load=atlanta,
    )
    CallFactory(external_id="c-3", started_at=at(two_days_ago), outcome="booked", carrier=good, load=atlanta)
    CallFactory(
        external_id="c-4",
        started_at=at(two_days_ago, 14),
        outcome="carrier_not_eligible",
        sentiment="negative",
        mc_number="999999",
        carrier=refused,
    )
    CallFactory(
        external_id="c-5",
        started_at=at(two_days_ago, 15),
        outcome="carrier_not_eligible",
        sentiment="neutral",
        mc_number="888888",
        carrier=lapsed,
    )
    CallFactory(
        external_id="c-6",
        started_at=at(two_days_ago, 16),
        outcome="no_matching_load",
        sentiment="neutral",
        carrier=good,
    )
    CallFactory(
        external_id="c-7",
        started_at=at(today - timedelta(days=20)),
        outcome="abandoned",
        sentiment="neutral",
        mc_number="",
    )
    CallFactory(
        external_id="c-8", started_at=at(today - timedelta(days=60)), outcome="booked", carrier=good, load=chicago
    )
    for n in range(extra_calls):
        CallFactory(external_id=f"c-extra-{n}", started_at=at(today, 11), outcome="booked", carrier=good, load=chicago)

    # Agreements: L-1 at the posted rate in one round, L-2 at 1050 after a counter.
    won = Negotiation.objects.create(
        load=chicago, carrier=good, status=NegotiationStatus.BOOKED, rounds_used=1, agreed_rate=Decimal("2000.00")
    )
    Offer.objects.create(
        negotiation=won,
        round=1,
        amount=Decimal("2000.00"),
        decision=OfferDecision.ACCEPT,
        agreed_amount=Decimal("2000.00"),
        created_at=at(today, 9, 5),
    )
    countered = Negotiation.objects.create(
        load=atlanta, carrier=good, status=NegotiationStatus.BOOKED, rounds_used=2, agreed_rate=Decimal("1050.00")
    )
    Offer.objects.create(
        negotiation=countered,
        round=1,
        amount=Decimal("1200.00"),
        decision=OfferDecision.COUNTER,
        counter_amount=Decimal("1050.00"),
        created_at=at(two_days_ago, 12, 1),
    )
    Offer.objects.create(
        negotiation=countered,
        round=2,
        amount=Decimal("1050.00"),
        decision=OfferDecision.ACCEPT,
        agreed_amount=Decimal("1050.00"),
        created_at=at(two_days_ago, 12, 3),
    )
    for load in (open_one, open_two):
        Negotiation.objects.create(
            load=load, carrier=good, status=NegotiationStatus.OPEN, rounds_used=1, last_counter=load.loadboard_rate
        )
    # The two refusals as FMCSA's lookups logged them, at the time of their calls.
    for carrier, moment in ((refused, at(two_days_ago, 14)), (lapsed, at(two_days_ago, 15))):
        VerificationLookup.objects.create(
            mc_number=carrier.mc_number,
            outcome=LookupOutcome.INELIGIBLE,
            reasons=carrier.ineligibility_reasons,
            latency_ms=120,
            looked_up_at=moment,
        )
    # The offers above were written directly, not through the negotiation service: recount the totals.
    rollups.rebuild()
    return {"today": today, "loads": [chicago, atlanta, open_one, open_two]}


@pytest.fixture
def sales_data(db):
    return make_sales_data()


def make_registry_data(*, extra=0):
    """gateway needs router and db; router needs db and cache; db needs disk; reporting needs
    db. Statuses cover every board state."""
    now = timezone.now()
    seen = {"last_seen": now, "last_health_check": now}
    services = {
        "gateway": ServiceFactory(
            name="gateway", required=True, status=ServiceStatus.HEALTHY, response_time_ms=40, **seen
        ),
        "router": ServiceFactory(
            name="router", required=True, status=ServiceStatus.UNHEALTHY, response_time_ms=900, **seen
        ),
        "db": ServiceFactory(
            name="db", priority=Priority.CRITICAL, status=ServiceStatus.HEALTHY, response_time_ms=12, **seen
        ),
        "cache": ServiceFactory(
            name="cache",
            status=ServiceStatus.HEALTHY,
            response_time_ms=3,
            last_seen=now - timedelta(hours=2),
        ),
        "disk": ServiceFactory(name="disk", priority=Priority.LOW, status=ServiceStatus.MAINTENANCE, **seen),
        "reporting": ServiceFactory(name="reporting", status=ServiceStatus.UNKNOWN, **seen),
        "legacy": ServiceFactory(name="legacy", status=ServiceStatus.DISABLED, enabled=False),
    }
    for source, target in [
        ("gateway", "router"),
        ("gateway", "db"),
        ("router", "db"),
        ("router", "cache"),
        ("db", "disk"),
        ("reporting", "db"),
    ]:
        DependencyFactory(service=services[source], depends_on=services[target])
    for n in range(extra):
        extra_service = ServiceFactory(name=f"extra-{n}", status=ServiceStatus.HEALTHY, response_time_ms=n, **seen)
        DependencyFactory(service=extra_service, depends_on=services["db"])
    return services


@pytest.fixture
def registry_data(db):
    return make_registry_data()


def metrics_on_page(html: str) -> dict[str, str]:
    """The headline figures of a page: ``data-metric`` name → the text shown."""
    return dict(re.findall(r'data-metric="([^"]+)">([^<]*)<', html))


def chart_on_page(html: str, key: str, *, optional=False) -> dict | None:
    found = re.search(rf'<script id="chart-{re.escape(key)}-data" type="application/json">(.*?)</script>', html, re.S)
    if found is None and optional:
        return None
    assert found, f"no chart {key} on the page"
    return json.loads(found.group(1))


def chart_values(chart: dict) -> dict[str, object]:
    """A one-series chart as category → value."""
    return dict(zip(chart["categories"], chart["series"][0]["values"], strict=True))


POLICY = "pyvrp-0.14.0; separate solves per compatibility class"
OTHER_POLICY = "nearest city first"


def dispatch_route(data, reference, *, vehicle, day, status, towns, order_status, policy=POLICY):
    """A route of ``data``'s hub leaving at 7:00 on ``day`` with one order and stop per town."""
    from logistics.models import Route, RouteStop
    from tests.logistics.factories import TOWNS, OrderFactory

    route = Route.objects.create(
        reference=reference,
        decision=data["decisions"][policy],
        vehicle=vehicle,
        status=status,
        destination_cities=list(dict.fromkeys(towns)),
        planned_start=at(day, 7),
        distance_km=100.0 * len(towns),
        duration_min=120.0 * len(towns),
        cost_kes=Decimal("20000.00") * len(towns),
    )
    for sequence, town in enumerate(towns, start=1):
        order = OrderFactory(hub=data["hub"], town=town, status=order_status, route=route)
        RouteStop.objects.create(
            route=route,
            sequence=sequence,
            order=order,
            city=town,
            latitude=TOWNS[town][0],
            longitude=TOWNS[town][1],
            leg_distance_km=100.0,
            estimated_arrival=at(day, 7 + 2 * sequence),
        )
    return route


def dispatch_outcome(route, *, day, errors, on_time=1, late=1):
    """What happened on ``route``, recorded in the evening of ``day`` with the given errors
    (cost, duration, distance, in %)."""
    from logistics.models import OperationalOutcome

    cost, duration, distance = errors
    made = OperationalOutcome.objects.create(
        route=route,
        decision=route.decision,
        estimated_distance_km=route.distance_km,
        estimated_duration_min=route.duration_min,
        estimated_cost_kes=route.cost_kes,
        actual_distance_km=route.distance_km,
        actual_duration_min=route.duration_min,
        actual_cost_kes=route.cost_kes,
        revenue_kes=Decimal("90000.00"),
        net_profit_kes=Decimal("50000.00"),
        cost_error_pct=cost,
        duration_error_pct=duration,
        distance_error_pct=distance,
        on_time_count=on_time,
        late_count=late,
    )
    OperationalOutcome.objects.filter(pk=made.pk).update(created_at=at(day, 18))
    return made


def make_dispatch_data(*, today=None, extra_routes=0):
    """Four vehicles (loading, in transit, available, in maintenance); today a planned route with
    two stops, one in progress with one stop and a cancelled one; three completed routes with
    outcomes on earlier days, two under ``POLICY`` and one under ``OTHER_POLICY``; orders pending,
    assigned, in transit, delivered and cancelled. ``extra_routes`` adds that many more planned
    routes today and completed ones yesterday (``add_dispatch_rows``)."""
    from logistics.choices import DecisionStatus, DecisionType, OrderStatus, RouteStatus, VehicleStatus
    from logistics.models import Decision, Route
    from tests.logistics.factories import CostModelFactory, HubFactory, OrderFactory, VehicleFactory

    today = today or timezone.localdate()
    hub = HubFactory()
    CostModelFactory()
    vehicles = {
        status: VehicleFactory(reference=f"KCA {n:03d}A", home_hub=hub, status=status)
        for n, status in enumerate(
            (VehicleStatus.LOADING, VehicleStatus.IN_TRANSIT, VehicleStatus.AVAILABLE, VehicleStatus.MAINTENANCE)
        )
    }
    decisions = {
        policy: Decision.objects.create(
            decision_type=DecisionType.DAILY_ROUTE_PLANNING,
            status=DecisionStatus.COMMITTED,
            committed_at=timezone.now(),
            policy=policy,
            planning_start=at(today - timedelta(days=5), 6),
        )
        for policy in (POLICY, OTHER_POLICY)
    }
    data = {"today": today, "hub": hub, "decisions": decisions}
    planned = dispatch_route(
        data,
        "R-TODAY-1",
        vehicle=vehicles[VehicleStatus.LOADING],
        day=today,
        status=RouteStatus.PLANNED,
        towns=["Nakuru", "Eldoret"],
        order_status=OrderStatus.ASSIGNED,
    )
    moving = dispatch_route(
        data,
        "R-TODAY-2",
        vehicle=vehicles[VehicleStatus.IN_TRANSIT],
        day=today,
        status=RouteStatus.IN_PROGRESS,
        towns=["Kisumu"],
        order_status=OrderStatus.IN_TRANSIT,
    )
    available = vehicles[VehicleStatus.AVAILABLE]
    Route.objects.create(
        reference="R-TODAY-CANCELLED",
        decision=decisions[POLICY],
        vehicle=available,
        status=RouteStatus.CANCELLED,
        planned_start=at(today, 6),
        distance_km=10,
        duration_min=10,
        cost_kes=Decimal("1000.00"),
    )
    done = [
        (3, POLICY, (-20.0, 15.0, -10.0)),
        (1, POLICY, (-8.0, 5.0, -4.0)),
        (2, OTHER_POLICY, (30.0, -25.0, 12.0)),
    ]
    for days_ago, policy, errors in done:
        day = today - timedelta(days=days_ago)
        finished = dispatch_route(
            data,
            f"R-{day.isoformat()}",
            vehicle=available,
            day=day,
            status=RouteStatus.COMPLETED,
            towns=["Naivasha", "Kitale"],
            order_status=OrderStatus.DELIVERED,
            policy=policy,
        )
        dispatch_outcome(finished, day=day, errors=errors)
    OrderFactory(reference="ORD-P1", hub=hub, town="Kitale")
    OrderFactory(reference="ORD-P2", hub=hub, town="Naivasha")
    OrderFactory(reference="ORD-C1", hub=hub, status=OrderStatus.CANCELLED)
    data["routes"] = [planned, moving]
    add_dispatch_rows(data, routes=extra_routes)
    return data


def add_dispatch_rows(data, *, routes):
    """``routes`` more planned routes today (each its own vehicle, two stops) and as many
    completed yesterday with their outcomes."""
    from logistics.choices import OrderStatus, RouteStatus, VehicleStatus
    from tests.logistics.factories import VehicleFactory

    yesterday = data["today"] - timedelta(days=1)
    start = len(data.setdefault("extra", []))
    for n in range(start, start + routes):
        for day, status, order_status in (
            (data["today"], RouteStatus.PLANNED, OrderStatus.ASSIGNED),
            (yesterday, RouteStatus.COMPLETED, OrderStatus.DELIVERED),
        ):
            vehicle = VehicleFactory(home_hub=data["hub"], status=VehicleStatus.LOADING)
            route = dispatch_route(
                data,
                f"R-X{n}-{status}",
                vehicle=vehicle,
                day=day,
                status=status,
                towns=["Naivasha", "Nakuru"],
                order_status=order_status,
            )
            if status == RouteStatus.COMPLETED:
                dispatch_outcome(route, day=day, errors=(-5.0, 4.0, -2.0))
        data["extra"].append(n)


@pytest.fixture
def dispatch_data(db):
    return make_dispatch_data()


def make_community_data(*, today=None, extra=0):
    """Three members; a post of today with two replies (one the best answer), two unanswered
    posts (three and twenty days old), a closed post without replies, a draft and a hidden post;
    two open reports and a dismissed one. ``extra`` adds that many more members
    (``add_community_rows``)."""
    from accounts import roles
    from community import services
    from community.choices import PostStatus
    from community.models import Post, Reply
    from core.context import acting_as

    today = today or timezone.localdate()
    alice = UserFactory(username="alice", first_name="Alice", last_name="Amin", roles=[roles.MEMBER])
    bilal = UserFactory(username="bilal", first_name="Bilal", last_name="Badr", roles=[roles.MEMBER])
    carla = UserFactory(username="carla", first_name="Carla", last_name="Costa", roles=[roles.MEMBER])

    def written(obj, day, hour=10):
        type(obj).all_objects.filter(pk=obj.pk).update(created_at=at(day, hour))
        obj.refresh_from_db()
        return obj

    answered = written(
        services.post_create(
            author=alice, title="OPC UA or MQTT for 40 PLCs?", body="Which one?", category="automation", tags=["plc"]
        ),
        today,
        8,
    )
    first = written(services.reply_create(post=answered, author=bilal, body="MQTT with Sparkplug B."), today, 9)
    second = written(services.reply_create(post=answered, author=carla, body="OPC UA, it models the data."), today)
    with acting_as(alice):
        services.post_set_best_answer(post=answered, reply=first)
    waiting = written(
        services.post_create(
            author=bilal, title="Vibration alarms on pump 3", body="Any idea?", category="maintenance"
        ),
        today - timedelta(days=3),
    )
    old = written(
        services.post_create(author=carla, title="Energy baseline per shift", body="How?", category="energy"),
        today - timedelta(days=20),
    )
    closed = services.post_create(author=carla, title="Closed without answer", body="Closed.", category="other")
    services.post_set_status(post=closed, status=PostStatus.CLOSED)
    draft = services.post_create(author=alice, title="Draft thoughts", body="Not yet.", status=PostStatus.DRAFT)
    hidden = services.post_create(author=bilal, title="Cheap sensors, click here", body="Spam.", category="other")
    spam_report = services.report_create(reporter=alice, reason="spam", post=hidden)
    with acting_as(alice):
        services.report_resolve(report=spam_report, resolution="dismiss")
    services.content_hide(instance=hidden, reason="advertising")
    services.report_create(reporter=carla, reason="off-topic", post=waiting)
    services.report_create(reporter=alice, reason="other", text="Rude tone", reply=second)
    add_community_rows(members=extra)
    return {
        "today": today,
        "members": [alice, bilal, carla],
        "posts": {"answered": answered, "waiting": waiting, "old": old, "closed": closed, "draft": draft},
        "replies": [first, second],
        "hidden": Post.all_objects.get(pk=hidden.pk),
        "reply_model": Reply,
    }


def add_community_rows(*, members):
    """``members`` more members, each with a tagged post of today, a reply on the newest other
    post and a report on it."""
    from accounts import roles
    from community import services
    from community.models import Post

    for n in range(members):
        member = UserFactory(username=f"member-{n:03d}", roles=[roles.MEMBER])
        other = Post.objects.exclude(author=member).filter(status="published").order_by("-created_at").first()
        services.post_create(author=member, title=f"Question {n}", body="?", category="ai", tags=[f"t{n}", "ai"])
        services.reply_create(post=other, author=member, body=f"Answer {n}")
        services.report_create(reporter=member, reason="spam", post=other)


@pytest.fixture
def community_data(db):
    return make_community_data()
