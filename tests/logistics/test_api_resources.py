"""Hubs, customers, orders and vehicles: the platform's CRUD contract on dispatch data."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from accounts import roles
from logistics.choices import OrderStatus, VehicleStatus
from logistics.models import Customer, Order, Vehicle
from tests.factories import UserFactory
from tests.logistics.conftest import BASE
from tests.logistics.factories import CustomerFactory, OrderFactory, VehicleFactory


def _order_body(hub, owner, **overrides):
    now = timezone.now()
    return {
        "reference": "ORD-NEW",
        "customer": str(owner.pk),
        "hub": str(hub.pk),
        "destination_city": "Eldoret",
        "destination_latitude": 0.5143,
        "destination_longitude": 35.2698,
        "weight_t": "1.5",
        "volume_m3": "4",
        "window_start": now.isoformat(),
        "window_end": (now + timedelta(days=1)).isoformat(),
        "priority": "high",
        "handling": "fragile",
        "price_kes": "45000",
        **overrides,
    }


def test_dispatcher_creates_an_order(dispatcher_client, hub):
    customer = CustomerFactory()
    response = dispatcher_client.post(f"{BASE}/orders/", _order_body(hub, customer))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (
        body["status"] == "pending" and body["route"] is None and body["created_by"] == dispatcher_client.user.username
    )
    assert Order.objects.get(reference="ORD-NEW").handling == "fragile"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"window_end": (timezone.now() - timedelta(days=1)).isoformat()}, "window_end"),
        ({"weight_t": "0"}, "weight_t"),
        ({"volume_m3": "-1"}, "volume_m3"),
        ({"destination_latitude": 91}, "destination_latitude"),
        ({"destination_longitude": -181}, "destination_longitude"),
        ({"priority": "asap"}, "priority"),
        ({"handling": "explosive"}, "handling"),
        ({"customer": "00000000-0000-0000-0000-000000000000"}, "customer"),
        ({"status": "delivered"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_orders_are_400_with_field_messages(dispatcher_client, hub, overrides, field):
    response = dispatcher_client.post(f"{BASE}/orders/", _order_body(hub, CustomerFactory(), **overrides))
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not Order.objects.filter(reference="ORD-NEW").exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"capacity_weight_t": "0"}, "capacity_weight_t"),
        ({"capacity_volume_m3": "-2"}, "capacity_volume_m3"),
        ({"home_hub": "00000000-0000-0000-0000-000000000000"}, "home_hub"),
    ],
)
def test_bad_vehicles_are_400(dispatcher_client, hub, overrides, field):
    body = {
        "reference": "KDA 1",
        "vehicle_type": "5T",
        "capacity_weight_t": "5",
        "capacity_volume_m3": "25",
        "home_hub": str(hub.pk),
        **overrides,
    }
    response = dispatcher_client.post(f"{BASE}/vehicles/", body)
    assert response.status_code == 400 and field in response.json()["fields"]


def test_hub_coordinates_and_hours_are_checked(dispatcher_client):
    body = {"name": "Mombasa", "latitude": 91, "longitude": 39.67, "opening_time": "18:00", "closing_time": "06:00"}
    response = dispatcher_client.post(f"{BASE}/hubs/", body)
    assert response.status_code == 400 and "latitude" in response.json()["fields"]
    response = dispatcher_client.post(f"{BASE}/hubs/", {**body, "latitude": -4.04})
    assert response.status_code == 400 and "closing_time" in response.json()["fields"]


def test_database_refuses_what_the_api_would(hub):
    with pytest.raises(IntegrityError):
        OrderFactory(hub=hub, window_end=timezone.now() - timedelta(days=30))


def test_database_refuses_an_assigned_order_without_route(hub):
    with pytest.raises(IntegrityError):
        OrderFactory(hub=hub, status=OrderStatus.ASSIGNED)


def test_orders_filter_by_status_destination_priority_handling_and_dates(dispatcher_client, hub):
    OrderFactory(hub=hub, town="Kitale", priority="urgent", handling="fresh_food")
    OrderFactory(hub=hub, town="Nakuru")
    OrderFactory(hub=hub, town="Nakuru", status=OrderStatus.CANCELLED)
    get = lambda q: [o["destination_city"] for o in dispatcher_client.get(f"{BASE}/orders/?{q}").json()["results"]]  # noqa: E731
    assert get("destination=kitale") == ["Kitale"]
    assert get("priority=urgent") == ["Kitale"]
    assert get("handling=fresh_food") == ["Kitale"]
    assert len(get("status=pending")) == 2 and get("status=cancelled") == ["Nakuru"]
    future = (timezone.now() + timedelta(days=10)).isoformat().replace("+", "%2B")
    assert get(f"window_from={future}") == []
    assert dispatcher_client.get(f"{BASE}/orders/?status=lost").status_code == 400


def test_soft_delete_and_restore_of_customers_orders_vehicles(dispatcher_client, hub):
    order = OrderFactory(hub=hub)
    vehicle = VehicleFactory(home_hub=hub)
    customer = CustomerFactory()
    for path, obj, model in (
        ("orders", order, Order),
        ("vehicles", vehicle, Vehicle),
        ("customers", customer, Customer),
    ):
        assert dispatcher_client.delete(f"{BASE}/{path}/{obj.pk}/").status_code == 204
        assert not model.objects.filter(pk=obj.pk).exists() and model.all_objects.filter(pk=obj.pk).exists()
        assert dispatcher_client.post(f"{BASE}/{path}/{obj.pk}/restore/").status_code == 200


def test_a_loading_vehicle_cannot_be_deleted(dispatcher_client, hub):
    vehicle = VehicleFactory(home_hub=hub, status=VehicleStatus.LOADING)
    response = dispatcher_client.delete(f"{BASE}/vehicles/{vehicle.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "vehicle_on_route"


def test_stale_version_is_409(dispatcher_client, hub):
    order = OrderFactory(hub=hub)
    response = dispatcher_client.patch(f"{BASE}/orders/{order.pk}/", {"price_kes": "1", "version": 7})
    assert response.status_code == 409


@pytest.mark.parametrize("role", [roles.MEMBER, roles.SALES_AGENT, roles.REGISTRY_OPERATOR])
def test_other_roles_may_not_write(make_client, role, hub):
    client = make_client(role)
    response = client.post(
        f"{BASE}/vehicles/",
        {
            "reference": "X",
            "vehicle_type": "5T",
            "capacity_weight_t": "5",
            "capacity_volume_m3": "25",
            "home_hub": str(hub.pk),
        },
    )
    assert response.status_code == 403


def test_forum_members_read_no_dispatch_and_anonymous_get_401(member_client, api_client, hub):
    OrderFactory(hub=hub)
    assert member_client.get(f"{BASE}/orders/").status_code == 403
    assert api_client.get(f"{BASE}/orders/").status_code == 401


def test_managers_and_admins_write(make_client, hub):
    for role in (roles.MANAGER, roles.ADMIN):
        response = make_client(role).post(f"{BASE}/customers/", {"reference": f"C-{role[:3]}", "name": "Acme"})
        assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("path", "factory"), [("orders", OrderFactory), ("vehicles", VehicleFactory), ("customers", CustomerFactory)]
)
def test_list_and_detail_query_counts_do_not_grow(dispatcher_client, hub, django_assert_num_queries, path, factory):
    user = UserFactory()
    rows = [factory() for _ in range(6)]
    type(rows[0]).all_objects.update(created_by=user, updated_by=user)
    # token + user + 2 permission lookups + count + page
    with django_assert_num_queries(6):
        response = dispatcher_client.get(f"{BASE}/{path}/")
    assert response.json()["count"] == 6 and response.json()["results"][0]["created_by"] == user.username
    with django_assert_num_queries(5):
        assert dispatcher_client.get(f"{BASE}/{path}/{rows[0].pk}/").status_code == 200
