"""Lane rate intelligence: percentiles the desk really paid, checked against hand-computed values,
and the ceiling they suggest for a load posted without one."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from carriers.choices import LoadStatus
from tests.carriers.factories import CarrierFactory, LoadFactory

pytestmark = pytest.mark.django_db

RATES = "/api/v1/lanes/rates/"


def booked(origin="IL", destination="TX", equipment="reefer", *, posted, agreed, miles=1000, days_ago=3):
    return LoadFactory(
        origin_state=origin,
        destination_state=destination,
        equipment_type=equipment,
        loadboard_rate=Decimal(posted),
        max_rate=None,
        agreed_rate=Decimal(agreed),
        miles=miles,
        status=LoadStatus.BOOKED,
        booked_carrier=CarrierFactory(),
        booked_at=timezone.now() - timedelta(days=days_ago),
    )


@pytest.fixture
def history():
    # IL → TX reefer: per mile 2.0, 2.2, 2.5, 3.0 (and one without miles); premiums 0, 5, 10, 25, 50 %.
    for agreed in ("2000", "2200", "2500", "3000"):
        booked(posted="2000", agreed=agreed)
    booked(posted="2000", agreed="2100", miles=None)
    booked("GA", "FL", "dry_van", posted="1000", agreed="1100")
    booked(posted="2000", agreed="9000", days_ago=200)  # outside the default 90 days
    LoadFactory(origin_state="IL", destination_state="TX", equipment_type="reefer")  # still available


def test_quartiles_match_hand_computed_values(history, manager_client):
    response = manager_client.get(RATES, {"origin_state": "il", "destination_state": "TX", "equipment_type": "reefer"})
    assert response.status_code == 200, response.content
    [lane] = response.json()
    assert lane["bookings"] == 5
    assert lane["rate_per_mile"] == {"p25": 2.15, "p50": 2.35, "p75": 2.625}
    assert lane["premium_pct"] == {"p25": 5.0, "p50": 10.0, "p75": 25.0}


def test_all_lanes_busiest_first_and_the_period_counts(history, manager_client):
    lanes = manager_client.get(RATES).json()
    assert [(row["origin_state"], row["destination_state"], row["bookings"]) for row in lanes] == [
        ("IL", "TX", 5),
        ("GA", "FL", 1),
    ]
    today = timezone.localdate()
    year = manager_client.get(RATES, {"from": today - timedelta(days=365), "to": today}).json()
    assert year[0]["bookings"] == 6 and year[0]["rate_per_mile"]["p75"] == 3.0


def test_bad_lane_queries_are_refused(manager_client):
    response = manager_client.get(RATES, {"origin_state": "ZZ", "from": "2026-02-30"})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"origin_state", "from"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "9999-12-31"}, "to"),  # the day after overflowed: a 500
        ({"from": "0001-01-01"}, "from"),
        ({"from": "0001-01-01", "to": "9999-12-30"}, "from"),
        ({"from": "2026-11-21", "to": "2026-11-20"}, "to"),
    ],
)
def test_days_out_of_range_are_a_400_on_the_field(manager_client, params, field):
    response = manager_client.get(RATES, params)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400 and body["code"] == "invalid" and field in body["fields"]


@pytest.mark.parametrize("role_client", ["sales_agent_client", "dispatcher_client"])
def test_lane_rates_need_the_ceiling_permission(history, request, role_client):
    """With CEILING_AUTO_SUGGEST on, a lane's 75th percentile is the ceiling of its new loads."""
    response = request.getfixturevalue(role_client).get(RATES)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "rate_per_mile" not in response.content.decode()


def test_lane_rates_stay_in_the_published_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/lanes/rates/"]["get"]
    assert {"200", "403"} <= set(operation["responses"])
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"from", "to", "origin_state"}


def test_ceiling_from_lane_history_never_below_posted(history, manager_client):
    load = LoadFactory(equipment_type="reefer", loadboard_rate=Decimal("2000"), max_rate=None, miles=900)
    body = manager_client.get(f"/api/v1/loads/{load.load_id}/ceiling-suggestion/").json()
    assert body["method"] == "lane_history" and body["bookings"] == 5
    assert body["amount"] == "2362.50"  # 2.625 $/mile × 900 miles
    assert "75th percentile of 5 bookings IL → TX" in body["explanation"]
    pricey = LoadFactory(equipment_type="reefer", loadboard_rate=Decimal("2500"), max_rate=None, miles=900)
    assert manager_client.get(f"/api/v1/loads/{pricey.load_id}/ceiling-suggestion/").json()["amount"] == "2500.00"


def test_thin_lanes_fall_back_to_the_configured_percentage(history, manager_client, sales_agent_client):
    load = LoadFactory(origin_state="GA", destination_state="FL", loadboard_rate=Decimal("1000"), max_rate=None)
    body = manager_client.get(f"/api/v1/loads/{load.load_id}/ceiling-suggestion/").json()
    assert body["method"] == "default_percentage" and body["amount"] == "1100.00"
    assert "only 1 bookings" in body["explanation"]
    # The suggestion is a ceiling: sales agents never see it.
    assert sales_agent_client.get(f"/api/v1/loads/{load.load_id}/ceiling-suggestion/").status_code == 403


def test_auto_suggest_applies_the_ceiling_on_posting(history, manager_client, settings):
    settings.CEILING_AUTO_SUGGEST = True
    payload = {
        "load_id": "L-AUTO",
        "origin_city": "Chicago",
        "origin_state": "IL",
        "destination_city": "Dallas",
        "destination_state": "TX",
        "pickup_datetime": (timezone.now() + timedelta(days=2)).isoformat(),
        "delivery_datetime": (timezone.now() + timedelta(days=3)).isoformat(),
        "equipment_type": "reefer",
        "loadboard_rate": "2000.00",
        "weight": 30000,
        "miles": 1000,
    }
    response = manager_client.post("/api/v1/loads/", payload)
    assert response.status_code == 201, response.content
    assert response.json()["max_rate"] == "2625.00"
    settings.CEILING_AUTO_SUGGEST = False
    response = manager_client.post("/api/v1/loads/", {**payload, "load_id": "L-MANUAL"})
    assert response.json()["max_rate"] is None
