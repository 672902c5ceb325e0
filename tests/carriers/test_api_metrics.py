from datetime import UTC, datetime
from decimal import Decimal

import pytest

from carriers.choices import LoadStatus
from tests.carriers.factories import CallFactory, CarrierFactory, LoadFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

METRICS = "/api/v1/metrics/carrier-sales/"


def at(day, hour=12):
    return datetime(2026, 11, day, hour, tzinfo=UTC)


@pytest.fixture
def sales_data(sales_agent_client):
    """Two agreements made through the API and a spread of logged calls."""
    CarrierFactory(mc_number="123456")
    CarrierFactory(mc_number="999999", ineligible=True)
    CarrierFactory(
        mc_number="888888",
        eligible=False,
        ineligibility_reasons=["not_allowed_to_operate", "out_of_service"],
    )
    chicago = LoadFactory(load_id="L-1", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))
    atlanta = LoadFactory(
        load_id="L-2",
        origin_city="Atlanta",
        origin_state="GA",
        destination_city="Miami",
        destination_state="FL",
        equipment_type="reefer",
        loadboard_rate=Decimal("1000.00"),
        max_rate=Decimal("1100.00"),
    )
    offers = "/api/v1/loads/{}/offers/"
    assert (
        sales_agent_client.post(offers.format("L-1"), {"mc_number": "123456", "amount": "2000"}).json()["decision"]
        == "accept"
    )
    sales_agent_client.post(offers.format("L-2"), {"mc_number": "123456", "amount": "1200"})  # counter 1030 (3 %)
    assert (
        sales_agent_client.post(offers.format("L-2"), {"mc_number": "123456", "amount": "1030"}).json()["agreed_amount"]
        == "1030.00"
    )
    CallFactory(started_at=at(20), outcome="booked", sentiment="positive", load=chicago)
    CallFactory(started_at=at(20, 15), outcome="booked", sentiment="neutral", load=atlanta)
    CallFactory(started_at=at(21), outcome="rate_not_agreed", sentiment="negative", load=chicago)
    CallFactory(
        started_at=at(21),
        outcome="carrier_not_eligible",
        sentiment="negative",
        mc_number="999999",
        carrier=CarrierFactory._meta.model.objects.get(mc_number="999999"),
    )
    CallFactory(
        started_at=at(21),
        outcome="carrier_not_eligible",
        sentiment="neutral",
        mc_number="888888",
        carrier=CarrierFactory._meta.model.objects.get(mc_number="888888"),
    )
    CallFactory(started_at=at(25), outcome="abandoned", sentiment="neutral")
    return chicago, atlanta


def test_metrics_over_a_period(manager_client, sales_data):
    response = manager_client.get(METRICS, {"from": "2026-11-20", "to": "2026-11-21"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total_calls"] == 5 and body["booked_calls"] == 2 and body["booking_rate"] == 0.4
    assert body["outcomes"]["booked"] == 2 and body["outcomes"]["carrier_not_eligible"] == 2
    assert body["outcomes"]["abandoned"] == 0 and set(body["outcomes"]) >= {"transferred_to_rep"}
    assert body["sentiments"] == {"positive": 1, "neutral": 2, "negative": 2}
    assert body["calls_per_day"] == [
        {"date": "2026-11-20", "calls": 2, "booked": 2},
        {"date": "2026-11-21", "calls": 3, "booked": 0},
    ]
    assert body["top_lanes"][0] == {"origin": "Chicago, IL", "destination": "Dallas, TX", "calls": 2, "booked": 1}
    assert body["top_lanes"][1] == {"origin": "Atlanta, GA", "destination": "Miami, FL", "calls": 1, "booked": 1}
    assert body["equipment_demand"] == {"dry_van": 2, "reefer": 1}
    # Failures by reason come from the verification log (tests/carriers/test_verification_log.py).
    assert set(body["verification_failures"]) >= {"not_allowed_to_operate", "out_of_service", "not_found"}


def test_agreement_figures(manager_client, sales_data):
    body = manager_client.get(METRICS).json()
    assert body["total_calls"] == 6
    assert body["agreements"] == 2
    assert body["average_rounds_to_agreement"] == 1.5
    assert body["average_premium_pct"] == 1.5  # 0 % on L-1, 3 % on L-2
    assert body["booked_value"] == "3030.00"


def test_empty_period(manager_client):
    body = manager_client.get(METRICS, {"from": "2030-01-01", "to": "2030-01-31"}).json()
    assert body["total_calls"] == 0 and body["booking_rate"] == 0.0
    assert body["average_rounds_to_agreement"] is None and body["booked_value"] == "0.00"
    assert body["calls_per_day"] == [] and body["top_lanes"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026-11-21", "to": "2026-11-20"}, "to"),
        # The day after the last one, or a day's midnight in UTC, used to overflow: a 500.
        ({"to": "9999-12-31"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"from": "1899-12-31", "to": "2026-11-20"}, "from"),
        ({"from": "2026-11-01", "to": "3000-01-01"}, "to"),
    ],
)
def test_bad_periods_are_400(manager_client, params, field):
    response = manager_client.get(METRICS, params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400 and body["code"] == "invalid" and body["detail"]
    assert list(body["fields"]) == [field]


@pytest.mark.parametrize("zone", ["UTC", "America/Chicago", "Asia/Tokyo"])
def test_the_widest_period_is_answered_in_any_time_zone(manager_client, settings, zone):
    settings.TIME_ZONE = zone
    for url in (METRICS, "/api/v1/lanes/rates/", "/api/v1/logistics/metrics/"):
        response = manager_client.get(url, {"from": "1900-01-01", "to": "2999-12-31"})
        assert response.status_code == 200, (url, response.content)


@pytest.mark.parametrize("zone", ["America/Chicago", "Asia/Tokyo"])
@pytest.mark.parametrize(
    ("url", "name", "value"),
    [
        ("/api/v1/logistics/metrics/", "to", "9999-12-31"),
        ("/api/v1/logistics/metrics/", "from", "0001-01-01T00:00:00"),
        ("/api/v1/logistics/metrics/", "to", "9999-12-31T23:59:59-05:00"),
        ("/api/v1/carriers/123456/history/", "before", "0001-01-01T00:00:00"),
        ("/api/v1/carriers/123456/history/", "before", "9999-12-31T23:59:59"),
    ],
)
def test_every_period_parameter_refuses_days_out_of_range(admin_client_api, settings, zone, url, name, value):
    """The same range (core.api.dates) on the other endpoints that take days or moments."""
    settings.TIME_ZONE = zone
    CarrierFactory(mc_number="123456")
    response = admin_client_api.get(url, {name: value})
    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {name: ["Must be between 1900-01-01 and 2999-12-31."]}


@pytest.mark.parametrize("page", ["/dashboard/sales/", "/dashboard/dispatch/", "/dashboard/community/"])
@pytest.mark.parametrize(("start", "end"), [("9999-12-30", "9999-12-31"), ("0001-01-01", "0001-01-02")])
def test_dashboard_periods_refuse_days_out_of_range(client, settings, page, start, end):
    settings.TIME_ZONE = "Asia/Tokyo"
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(page, {"period": "custom", "from": start, "to": end})
    assert response.status_code == 400
    assert "Must be between 1900-01-01 and 2999-12-31." in response.content.decode()


def test_query_count_does_not_grow_with_calls(manager_client, sales_data, django_assert_num_queries):
    # Token and user (2), permissions (2), then six aggregate queries.
    with django_assert_num_queries(10):
        manager_client.get(METRICS)
    for day in range(1, 20):
        CallFactory(started_at=at(day), load=sales_data[0], outcome="booked")
    with django_assert_num_queries(10):
        assert manager_client.get(METRICS).json()["total_calls"] == 25


def test_registry_operators_cannot_see_sales_metrics(registry_operator_client):
    assert registry_operator_client.get(METRICS).status_code == 403


def test_booked_loads_keep_posted_and_agreed_rates_apart(sales_data):
    chicago, atlanta = sales_data
    atlanta.refresh_from_db()
    assert atlanta.status == LoadStatus.BOOKED
    assert atlanta.loadboard_rate == Decimal("1000.00") and atlanta.agreed_rate == Decimal("1030.00")
