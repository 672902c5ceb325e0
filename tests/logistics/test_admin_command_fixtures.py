"""Admin pages, ``manage.py plan_routes``, the demo fixture and the metrics endpoint."""

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts import roles
from logistics import services
from logistics.choices import DecisionStatus, Handling, OrderStatus
from logistics.models import CostModel, Decision, Hub, Order, Route, Vehicle
from tests.factories import UserFactory
from tests.logistics.conftest import BASE
from tests.logistics.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("loaddata", "logistics_demo", verbosity=0)


def test_demo_fixture_is_the_nairobi_hub_with_up_country_orders(demo):
    call_command("loaddata", "logistics_demo", verbosity=0)  # idempotent
    assert Hub.objects.get().name.startswith("Nairobi")
    orders = list(Order.objects.all())
    assert 35 <= len(orders) <= 45
    towns = Counter(o.destination_city for o in orders)
    assert {"Nakuru", "Eldoret", "Kitale", "Kisumu"} <= set(towns)
    handling = Counter(o.handling for o in orders)
    assert handling[Handling.HAZARDOUS] == 1 and handling[Handling.FRESH_FOOD] >= 3
    vehicles = list(Vehicle.objects.all())
    assert {v.vehicle_type for v in vehicles} == {"5T", "10T"}
    assert sum(v.refrigerated for v in vehicles) == 1 and sum(v.hazmat_certified for v in vehicles) == 1
    for row in [*orders, *vehicles]:
        row.full_clean()
    assert CostModel.objects.get().rates.count() == 2


def test_plan_routes_command_plans_and_commits_the_demo(demo):
    out, err = StringIO(), StringIO()
    call_command("plan_routes", "--time-limit", "1", "--commit", stdout=out, stderr=err)
    assert "Committed." in out.getvalue() and "solving" in err.getvalue()
    decision = Decision.objects.get()
    assert decision.status == DecisionStatus.COMMITTED
    assert Route.objects.count() == len(decision.plan["routes"]) >= 3
    assert Order.objects.filter(status=OrderStatus.ASSIGNED).count() == decision.orders_routed >= 30


def test_plan_routes_for_a_user_records_them_as_the_decision_maker(demo):
    planner = UserFactory(username="night-dispatcher")
    call_command(
        "plan_routes", "--time-limit", "1", "--as-user", planner.username, stdout=StringIO(), stderr=StringIO()
    )
    decision = Decision.objects.get()
    assert decision.created_by == planner and decision.history.earliest().history_user == planner


def test_plan_routes_with_nothing_pending_fails_clearly(demo):
    Order.objects.update(status=OrderStatus.CANCELLED)
    with pytest.raises(Exception, match="no pending orders"):
        call_command("plan_routes", "--time-limit", "1", stdout=StringIO(), stderr=StringIO())


def test_admin_pages_render(admin_client, demo, solve_now):
    decision = solve_now(services.decision_create, time_limit_seconds=1)
    services.decision_commit(decision=decision)
    route = Route.objects.first()
    for name, args in [
        ("admin:logistics_order_changelist", []),
        ("admin:logistics_vehicle_changelist", []),
        ("admin:logistics_route_changelist", []),
        ("admin:logistics_route_change", [route.pk]),
        ("admin:logistics_decision_change", [decision.pk]),
        ("admin:logistics_costmodel_change", [CostModel.objects.get().pk]),
        ("admin:logistics_costmodel_history", [CostModel.objects.get().pk]),
        ("admin:django_celery_beat_periodictask_changelist", []),
        ("admin:logistics_vehicletyperate_changelist", []),
    ]:
        response = admin_client.get(reverse(name, args=args))
        assert response.status_code == 200, name
    page = admin_client.get(reverse("admin:logistics_decision_change", args=[decision.pk])).content.decode()
    assert route.vehicle.reference in page and "Proposed routes" in page


def test_admin_order_edit_goes_through_the_service_rules(admin_client, hub):
    order = OrderFactory(hub=hub)
    services.order_update(order=order, status=OrderStatus.CANCELLED)
    order.refresh_from_db()
    url = reverse("admin:logistics_order_change", args=[order.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    data = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None}
    data.update(
        window_start_0=order.window_start.date().isoformat(),
        window_start_1=order.window_start.strftime("%H:%M:%S"),
        window_end_0=order.window_end.date().isoformat(),
        window_end_1=order.window_end.strftime("%H:%M:%S"),
        customer=str(order.customer_id),
        hub=str(order.hub_id),
        price_kes="1",
    )
    data.pop("window_start"), data.pop("window_end")
    response = admin_client.post(url, data)
    assert response.status_code == 200  # the form is shown again with the refusal
    assert "only pending orders can be changed" in response.content.decode()


def test_metrics_show_orders_on_time_rate_utilisation_and_errors(make_client, hub, cost_model, solve_now):
    OrderFactory(hub=hub, town="Nakuru")
    OrderFactory(hub=hub, town="Eldoret", status=OrderStatus.CANCELLED)
    from tests.logistics.factories import VehicleFactory

    VehicleFactory(home_hub=hub)
    decision = solve_now(services.decision_create, time_limit_seconds=1)
    services.decision_commit(decision=decision)
    route = Route.objects.get()
    services.route_start(route=route)
    services.route_complete(
        route=route,
        actual_distance_km=route.distance_km * 1.25,
        actual_duration_min=route.duration_min,
        actual_cost_kes=float(route.cost_kes),
        revenue_kes=100000,
        results={o.reference: "late" for o in route.orders.all()},
    )
    client = make_client(roles.MANAGER)
    body = client.get("/api/v1/metrics/logistics/?from=2020-01-01&to=2099-12-31").json()
    assert body["orders_by_status"]["delivered"] == 1 and body["orders_by_status"]["cancelled"] == 1
    assert body["on_time_rate"] == 0.0
    assert body["mape"]["distance"] == pytest.approx(20.0, abs=0.01)
    assert body["mape_by_day"][0]["outcomes"] == 1
    assert body["fleet"]["used_in_period"] == 1
    assert client.get(f"{BASE}/metrics/?from=2030-01-01").json()["outcomes"] == 0
    assert client.get(f"{BASE}/metrics/?from=yesterday").status_code == 400
    assert make_client(roles.SALES_AGENT).get(f"{BASE}/metrics/").status_code == 403


def test_admin_sets_a_vehicle_type_rate_through_the_service(admin_client, cost_model):
    url = reverse("admin:logistics_vehicletyperate_add")
    data = {
        "cost_model": str(cost_model.pk),
        "vehicle_type": "7T",
        "fuel_cost_per_km": "95",
        "driver_cost_per_hour": "480",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:500]
    rate = cost_model.rates.get(vehicle_type="7T")
    assert rate.fuel_cost_per_km == 95 and rate.history.count() == 1
    refused = admin_client.post(url, {**data, "fuel_cost_per_km": "-1"})
    assert refused.status_code == 200 and cost_model.rates.get(vehicle_type="7T").fuel_cost_per_km == 95
