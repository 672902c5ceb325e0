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
