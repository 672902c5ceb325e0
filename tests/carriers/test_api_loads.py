from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from carriers.choices import LoadStatus, NegotiationStatus
from carriers.models import Load, Negotiation
from tests.carriers.factories import CarrierFactory, LoadFactory

pytestmark = pytest.mark.django_db

LOADS = "/api/v1/loads/"


def new_load(**overrides):
    pickup = timezone.now() + timedelta(days=3)
    data = {
        "load_id": "L-10042",
        "origin_city": "Chicago",
        "origin_state": "IL",
        "destination_city": "Dallas",
        "destination_state": "TX",
        "pickup_datetime": pickup.isoformat(),
        "delivery_datetime": (pickup + timedelta(hours=20)).isoformat(),
        "equipment_type": "dry_van",
        "loadboard_rate": "2300.00",
        "max_rate": "2500.00",
        "weight": 42000,
        "commodity_type": "Paper products",
        "num_of_pieces": 24,
        "miles": 925,
        "dimensions": "53 ft trailer",
        "notes": "Appointment required at delivery.",
    }
    data.update(overrides)
    return data


def results(response):
    assert response.status_code == 200, response.content
    return [row["load_id"] for row in response.json()["results"]]


def test_manager_creates_a_load_with_normalised_spellings(manager_client):
    response = manager_client.post(LOADS, new_load(equipment_type="Dry Van", origin_state="il"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["equipment_type"] == "dry_van" and body["origin_state"] == "IL"
    assert body["status"] == "available" and body["max_rate"] == "2500.00" and body["agreed_rate"] is None
    load = Load.objects.get(load_id="L-10042")
    assert load.created_by == manager_client.user and load.version == 1


def test_a_new_load_is_always_available(manager_client):
    response = manager_client.post(LOADS, new_load(status="booked"))
    assert response.status_code == 201 and response.json()["status"] == "available"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"delivery_datetime": (timezone.now() + timedelta(days=2)).isoformat()}, "delivery_datetime"),
        ({"notes": "bad\x00byte"}, "notes"),
        ({"origin_city": "Chi\x00cago"}, "origin_city"),
        ({"origin_state": "XX"}, "origin_state"),
        ({"destination_state": "Texas"}, "destination_state"),
        ({"equipment_type": "spaceship"}, "equipment_type"),
        ({"loadboard_rate": "-10"}, "loadboard_rate"),
        ({"loadboard_rate": "abc"}, "loadboard_rate"),
        ({"max_rate": "2000.00"}, "max_rate"),
        ({"weight": 0}, "weight"),
        ({"load_id": "L 1/2"}, "load_id"),
        ({"pickup_datetime": "tomorrow"}, "pickup_datetime"),
        ({"load_id": ""}, "load_id"),
    ],
)
def test_bad_loads_are_400_with_field_messages(manager_client, overrides, field):
    response = manager_client.post(LOADS, new_load(**overrides))
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
    assert not Load.objects.exists()


def test_duplicate_load_id_is_400(manager_client):
    LoadFactory(load_id="L-10042")
    response = manager_client.post(LOADS, new_load())
    assert response.status_code == 400 and "load_id" in response.json()["fields"]


def test_load_is_addressed_by_load_id(sales_agent_client):
    LoadFactory(load_id="L-10042")
    response = sales_agent_client.get(f"{LOADS}L-10042/")
    assert response.status_code == 200 and response.json()["load_id"] == "L-10042"
    assert sales_agent_client.get(f"{LOADS}L-99999/").status_code == 404


@pytest.mark.parametrize("role_client", ["sales_agent_client", "dispatcher_client"])
def test_ceiling_is_hidden_without_the_permission(request, role_client):
    LoadFactory(load_id="L-1", max_rate=Decimal("2468.00"))
    client = request.getfixturevalue(role_client)
    listed = client.get(LOADS).json()["results"][0]
    detail = client.get(f"{LOADS}L-1/")
    assert "max_rate" not in listed and "max_rate" not in detail.json()
    # Nowhere in the answer, under any name (as an amount: a timestamp's digits may contain "2468").
    assert '"2468.00"' not in detail.content.decode() and "2468.0" not in str(list(detail.json().values()))


def test_ceiling_is_shown_to_managers(manager_client):
    LoadFactory(load_id="L-1", max_rate=Decimal("2468.00"))
    assert manager_client.get(f"{LOADS}L-1/").json()["max_rate"] == "2468.00"


def test_sales_agents_cannot_write_loads(sales_agent_client):
    LoadFactory(load_id="L-1")
    assert sales_agent_client.post(LOADS, new_load()).status_code == 403
    assert sales_agent_client.patch(f"{LOADS}L-1/", {"loadboard_rate": "1"}).status_code == 403
    assert sales_agent_client.delete(f"{LOADS}L-1/").status_code == 403


def test_search_filters(sales_agent_client):
    soon = timezone.now() + timedelta(days=1)
    LoadFactory(load_id="L-A", origin_city="Chicago", origin_state="IL", loadboard_rate=Decimal("2500"))
    LoadFactory(
        load_id="L-B",
        origin_city="Mobile",
        origin_state="AL",
        destination_city="Houston",
        destination_state="TX",
        equipment_type="reefer",
        loadboard_rate=Decimal("1200"),
        weight=20000,
        pickup_datetime=soon,
        delivery_datetime=soon + timedelta(hours=9),
    )
    LoadFactory(load_id="L-C", origin_city="Atlanta", origin_state="GA", destination_state="FL", status="cancelled")
    assert results(sales_agent_client.get(LOADS, {"origin_state": "IL"})) == ["L-A"]  # never "Mobile, AL"
    assert results(sales_agent_client.get(LOADS, {"origin_state": "al"})) == ["L-B"]
    assert results(sales_agent_client.get(LOADS, {"origin_city": "chicago"})) == ["L-A"]
    assert results(sales_agent_client.get(LOADS, {"destination_state": "FL"})) == ["L-C"]
    assert results(sales_agent_client.get(LOADS, {"destination_city": "Houston"})) == ["L-B"]
    assert results(sales_agent_client.get(LOADS, {"equipment_type": "Reefer"})) == ["L-B"]
    assert sorted(results(sales_agent_client.get(LOADS, {"equipment_type": "Dry-Van"}))) == ["L-A", "L-C"]
    assert results(sales_agent_client.get(LOADS, {"min_rate": "2400"})) == ["L-A"]
    assert results(sales_agent_client.get(LOADS, {"max_weight": "25000"})) == ["L-B"]
    assert sorted(results(sales_agent_client.get(LOADS, {"status": "available"}))) == ["L-A", "L-B"]
    until = (timezone.now() + timedelta(days=1, hours=1)).isoformat()
    assert results(sales_agent_client.get(LOADS, {"pickup_to": until})) == ["L-B"]
    assert sorted(results(sales_agent_client.get(LOADS, {"pickup_from": until}))) == ["L-A", "L-C"]
    assert results(sales_agent_client.get(LOADS, {"ordering": "-loadboard_rate", "status": "available"})) == [
        "L-A",
        "L-B",
    ]
    assert results(sales_agent_client.get(LOADS, {"ordering": "pickup_datetime", "status": "available"})) == [
        "L-B",
        "L-A",
    ]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("origin_state", "Illinois"),
        ("equipment_type", "hovercraft"),
        ("min_rate", "cheap"),
        ("pickup_from", "someday"),
        ("status", "lost"),
    ],
)
def test_bad_filters_are_400(sales_agent_client, param, value):
    response = sales_agent_client.get(LOADS, {param: value})
    assert response.status_code == 400
    assert param in response.json()["fields"]


def test_list_pages_with_a_cursor(sales_agent_client):
    for _ in range(5):
        LoadFactory()
    first = sales_agent_client.get(LOADS, {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"] and "count" not in first
    second = sales_agent_client.get(first["next"]).json()
    ids = {row["load_id"] for row in first["results"]} | {row["load_id"] for row in second["results"]}
    assert len(ids) == 4


def test_list_query_count_does_not_grow_with_rows(sales_agent_client, django_assert_num_queries):
    carrier = CarrierFactory()
    LoadFactory(status=LoadStatus.BOOKED, booked_carrier=carrier, agreed_rate=Decimal("2000"))
    # Token and user (2), the user's permissions (2), the page of loads with their carriers (1).
    with django_assert_num_queries(5):
        assert len(sales_agent_client.get(LOADS).json()["results"]) == 1
    for _ in range(10):
        LoadFactory(status=LoadStatus.BOOKED, booked_carrier=CarrierFactory(), agreed_rate=Decimal("2000"))
    with django_assert_num_queries(5):
        assert len(sales_agent_client.get(LOADS).json()["results"]) == 11


def test_status_changes_follow_the_allowed_transitions(manager_client):
    load = LoadFactory(load_id="L-1")
    response = manager_client.patch(f"{LOADS}L-1/", {"status": "booked"})
    assert response.status_code == 400 and "status" in response.json()["fields"]
    assert manager_client.patch(f"{LOADS}L-1/", {"status": "cancelled"}).json()["status"] == "cancelled"
    assert manager_client.patch(f"{LOADS}L-1/", {"status": "delivered"}).status_code == 400
    assert manager_client.patch(f"{LOADS}L-1/", {"status": "available"}).json()["status"] == "available"
    load.refresh_from_db()
    assert load.version == 3


def test_reposting_a_booked_load_clears_the_booking(manager_client):
    carrier = CarrierFactory()
    load = LoadFactory(load_id="L-1", status=LoadStatus.BOOKED, booked_carrier=carrier, agreed_rate=Decimal("2100"))
    response = manager_client.patch(f"{LOADS}L-1/", {"status": "available"})
    assert response.status_code == 200
    load.refresh_from_db()
    assert load.booked_carrier is None and load.agreed_rate is None


def test_update_rejects_delivery_before_pickup(manager_client):
    load = LoadFactory(load_id="L-1")
    earlier = (load.pickup_datetime - timedelta(hours=1)).isoformat()
    response = manager_client.patch(f"{LOADS}L-1/", {"delivery_datetime": earlier})
    assert response.status_code == 400 and "delivery_datetime" in response.json()["fields"]


def test_stale_version_is_409(manager_client):
    LoadFactory(load_id="L-1")
    assert manager_client.patch(f"{LOADS}L-1/", {"notes": "first", "version": 1}).status_code == 200
    response = manager_client.patch(f"{LOADS}L-1/", {"notes": "second", "version": 1})
    assert response.status_code == 409
    assert Load.objects.get().notes == "first"


def test_delete_soft_deletes_and_frees_the_load_id(manager_client):
    LoadFactory(load_id="L-1")
    assert manager_client.delete(f"{LOADS}L-1/").status_code == 204
    assert manager_client.get(f"{LOADS}L-1/").status_code == 404
    assert Load.all_objects.get(load_id="L-1").is_deleted
    assert manager_client.post(LOADS, new_load(load_id="L-1")).status_code == 201


@pytest.mark.parametrize("method", ["post", "patch"])
def test_rules_across_fields_are_400_with_field_messages_on_create_and_update(manager_client, method):
    """Delivery after pickup and ceiling not below the posted rate are the model's rules; the
    API answers them like any field error."""
    load = LoadFactory(load_id="L-1", loadboard_rate=Decimal("2000.00"), max_rate=Decimal("2200.00"))
    body = {"delivery_datetime": (load.pickup_datetime - timedelta(hours=1)).isoformat(), "max_rate": "1500.00"}
    if method == "post":
        response = manager_client.post(LOADS, new_load(load_id="L-2", loadboard_rate="2000.00", **body))
    else:
        response = manager_client.patch(f"{LOADS}L-1/", body)
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "delivery_datetime": ["Delivery must be after pickup."],
        "max_rate": ["The ceiling cannot be below the posted rate."],
    }
    assert Load.objects.count() == 1 and Load.objects.get().version == 1


def test_reposting_a_booked_load_reopens_the_negotiations_with_history(manager_client):
    winner, loser = CarrierFactory(), CarrierFactory()
    load = LoadFactory(load_id="L-1", status=LoadStatus.BOOKED, booked_carrier=winner, agreed_rate=Decimal("2100"))
    Negotiation.objects.create(load=load, carrier=winner, status=NegotiationStatus.BOOKED, agreed_rate=Decimal("2100"))
    Negotiation.objects.create(load=load, carrier=loser, status=NegotiationStatus.CLOSED)
    assert manager_client.patch(f"{LOADS}L-1/", {"status": "available"}).status_code == 200
    for negotiation in Negotiation.objects.all():
        expected = NegotiationStatus.CLOSED if negotiation.carrier == winner else NegotiationStatus.OPEN
        assert negotiation.status == expected
        latest = negotiation.history.first()
        assert (latest.status, latest.history_user) == (expected, manager_client.user)


def test_deleting_a_load_that_negotiations_reference_soft_deletes_it(manager_client):
    load = LoadFactory(load_id="L-1")
    Negotiation.objects.create(load=load, carrier=CarrierFactory())
    assert manager_client.delete(f"{LOADS}L-1/").status_code == 204
    assert Load.all_objects.get(pk=load.pk).is_deleted and Negotiation.objects.filter(load=load).exists()
    assert manager_client.post(f"{LOADS}L-1/restore/").status_code == 200


def test_a_load_in_progress_is_cancelled_not_deleted(manager_client):
    LoadFactory(load_id="L-1", status=LoadStatus.BOOKED, booked_carrier=CarrierFactory(), agreed_rate=Decimal("2100"))
    response = manager_client.delete(f"{LOADS}L-1/")
    assert response.status_code == 409 and response.json()["code"] == "load_in_progress"
    assert not Load.all_objects.get(load_id="L-1").is_deleted
