"""Running routes: start, complete with actuals, outcomes with server-computed errors, calibration."""

from decimal import Decimal

import pytest

from accounts import roles
from logistics import services
from logistics.choices import OrderStatus, RouteStatus, VehicleStatus
from logistics.models import CostModel, OperationalOutcome, Order, Route, Vehicle
from tests.logistics.conftest import BASE
from tests.logistics.factories import OrderFactory, RateFactory, VehicleFactory


@pytest.fixture
def committed_route(hub, cost_model, solve_now):
    OrderFactory(hub=hub, town="Nakuru")
    OrderFactory(hub=hub, town="Nakuru")
    VehicleFactory(home_hub=hub)
    decision = solve_now(services.decision_create, time_limit_seconds=1)
    services.decision_commit(decision=decision)
    return Route.objects.get()


def _complete_body(route, **overrides):
    return {
        "actual_distance_km": route.distance_km * 1.1,
        "actual_duration_min": route.duration_min * 1.2,
        "actual_cost_kes": str(round(float(route.cost_kes) * 1.15, 2)),
        "revenue_kes": "160000",
        "results": [
            {"order": o.reference, "result": r}
            for o, r in zip(route.orders.order_by("reference"), ("on_time", "late"), strict=True)
        ],
        **overrides,
    }


def test_start_then_complete_records_the_outcome_and_moves_everything_on(dispatcher_client, committed_route):
    route = committed_route
    response = dispatcher_client.post(f"{BASE}/routes/{route.pk}/start/")
    assert response.status_code == 200 and response.json()["status"] == "in_progress"
    assert [s["sequence"] for s in response.json()["stops"]] == [1, 2]
    assert set(route.orders.values_list("status", flat=True)) == {OrderStatus.IN_TRANSIT}
    assert Vehicle.objects.get(pk=route.vehicle_id).status == VehicleStatus.IN_TRANSIT

    response = dispatcher_client.post(f"{BASE}/routes/{route.pk}/complete/", _complete_body(route))
    assert response.status_code == 201, response.json()
    outcome = response.json()
    assert outcome["distance_error_pct"] == pytest.approx((1 / 1.1 - 1) * 100, abs=0.01)
    assert outcome["duration_error_pct"] == pytest.approx((1 / 1.2 - 1) * 100, abs=0.01)
    assert outcome["cost_error_pct"] == pytest.approx((1 / 1.15 - 1) * 100, abs=0.05)
    assert outcome["on_time_count"] == 1 and outcome["late_count"] == 1 and outcome["failed_count"] == 0
    assert Decimal(outcome["net_profit_kes"]) == Decimal("160000") - Decimal(outcome["actual_cost_kes"])
    route.refresh_from_db()
    assert route.status == RouteStatus.COMPLETED and route.completed_at
    assert set(route.orders.values_list("status", flat=True)) == {OrderStatus.DELIVERED}
    assert Vehicle.objects.get(pk=route.vehicle_id).status == VehicleStatus.AVAILABLE
    assert outcome["calibration"]["applied"] is True

    again = dispatcher_client.post(f"{BASE}/routes/{route.pk}/complete/", _complete_body(route))
    assert again.status_code == 409 and OperationalOutcome.objects.count() == 1


def test_complete_before_start_is_409(dispatcher_client, committed_route):
    response = dispatcher_client.post(f"{BASE}/routes/{committed_route.pk}/complete/", _complete_body(committed_route))
    assert response.status_code == 409 and response.json()["code"] == "route_not_in_progress"


@pytest.mark.parametrize(
    "overrides",
    [
        {"actual_distance_km": 0},
        {"results": [{"order": "ORD-NOPE", "result": "on_time"}]},
        {"results": [{"order": "x", "result": "lost"}]},
        {"results": []},
    ],
)
def test_bad_completions_are_400_and_change_nothing(dispatcher_client, committed_route, overrides):
    dispatcher_client.post(f"{BASE}/routes/{committed_route.pk}/start/")
    response = dispatcher_client.post(
        f"{BASE}/routes/{committed_route.pk}/complete/", _complete_body(committed_route, **overrides)
    )
    assert response.status_code == 400, response.json()
    assert not OperationalOutcome.objects.exists()
    assert Route.objects.get().status == RouteStatus.IN_PROGRESS


def test_a_failed_delivery_fails_the_order(dispatcher_client, committed_route):
    dispatcher_client.post(f"{BASE}/routes/{committed_route.pk}/start/")
    body = _complete_body(committed_route)
    body["results"][0]["result"] = "failed"
    assert dispatcher_client.post(f"{BASE}/routes/{committed_route.pk}/complete/", body).status_code == 201
    assert Order.objects.filter(status=OrderStatus.FAILED).count() == 1


def test_members_cannot_operate_routes(member_client, committed_route):
    assert member_client.get(f"{BASE}/routes/").status_code == 403
    assert member_client.post(f"{BASE}/routes/{committed_route.pk}/start/").status_code == 403


def test_route_list_query_count_does_not_grow(dispatcher_client, committed_route, django_assert_num_queries):
    # token + user + permissions (2) + count + routes + stops with their orders
    with django_assert_num_queries(7):
        response = dispatcher_client.get(f"{BASE}/routes/")
    assert response.json()["results"][0]["stops"][0]["order_reference"].startswith("ORD-")


def test_calibration_moves_estimates_toward_actuals_over_a_series_of_outcomes(hub, cost_model, solve_now):
    """The world drives 1.5× the great-circle distance at 40 km/h and costs 20% more than the rates say;
    the model starts at 1.3 and 50 km/h. Each outcome moves it closer, and the errors shrink."""
    RateFactory(
        cost_model=cost_model, vehicle_type="10T", fuel_cost_per_km=Decimal("120"), driver_cost_per_hour=Decimal("550")
    )
    true_factor, true_speed, true_rate_ratio = 1.5, 40.0, 1.2
    vehicle = VehicleFactory(home_hub=hub)
    errors = []
    for _ in range(8):
        OrderFactory(hub=hub, town="Eldoret", price_kes=Decimal("500000"))
        decision = solve_now(services.decision_create, vehicle_ids=[vehicle.pk], time_limit_seconds=1)
        services.decision_commit(decision=decision)
        route = Route.objects.get(status=RouteStatus.PLANNED)
        cm = CostModel.objects.get()
        great_circle = route.distance_km / cm.road_factor
        actual_distance = great_circle * true_factor
        service = route.duration_min - route.distance_km / cm.average_speed_kmh * 60
        actual_duration = actual_distance / true_speed * 60 + service
        rate = cm.rates.get(vehicle_type="10T")
        true_fuel, true_driver = 120 * true_rate_ratio, 550 * true_rate_ratio
        actual_cost = 5000 + actual_distance * true_fuel + actual_duration / 60 * true_driver
        services.route_start(route=route)
        outcome = services.route_complete(
            route=route,
            actual_distance_km=actual_distance,
            actual_duration_min=actual_duration,
            actual_cost_kes=actual_cost,
            revenue_kes=500000,
            results={o.reference: "on_time" for o in route.orders.all()},
        )
        errors.append((abs(outcome.distance_error_pct), abs(outcome.duration_error_pct), abs(outcome.cost_error_pct)))
        assert rate.fuel_cost_per_km <= cm.rates.get(vehicle_type="10T").fuel_cost_per_km
    cm = CostModel.objects.get()
    assert abs(cm.road_factor - true_factor) < 0.02  # 0.2 × 0.7⁸ left after eight outcomes
    assert abs(cm.average_speed_kmh - true_speed) < 1.0
    assert float(cm.rates.get(vehicle_type="10T").fuel_cost_per_km) == pytest.approx(144, rel=0.03)
    assert cm.outcomes_applied == 8
    for i in range(3):
        assert errors[-1][i] < errors[0][i] / 5, errors
    assert cm.history.count() >= 9  # every calibration step is in the history


def test_cost_model_is_read_and_tuned_through_the_api_with_history(make_client, cost_model, django_assert_num_queries):
    RateFactory(cost_model=cost_model, vehicle_type="5T")
    manager = make_client(roles.MANAGER)
    # token (2) + permissions (2) + cost model + its rates
    with django_assert_num_queries(6):
        body = manager.get(f"{BASE}/cost-model/").json()
    assert body["road_factor"] == 1.3 and [r["vehicle_type"] for r in body["rates"]] == ["5T"]
    response = manager.patch(
        f"{BASE}/cost-model/",
        {
            "average_speed_kmh": 45,
            "version": body["version"],
            "rates": [{"vehicle_type": "10T", "fuel_cost_per_km": "130", "driver_cost_per_hour": "600"}],
        },
    )
    assert response.status_code == 200, response.json()
    assert response.json()["average_speed_kmh"] == 45
    assert {r["vehicle_type"] for r in response.json()["rates"]} == {"5T", "10T"}
    assert manager.patch(f"{BASE}/cost-model/", {"road_factor": 0.5}).status_code == 400
    assert manager.patch(f"{BASE}/cost-model/", {"road_factor": 1.4, "version": 1}).status_code == 409
    history = manager.get(f"{BASE}/cost-model/history/").json()
    assert [h["average_speed_kmh"] for h in history][:2] == [45, 50]
    assert make_client(roles.MEMBER).patch(f"{BASE}/cost-model/", {"road_factor": 1.4}).status_code == 403


def test_outcome_and_hub_lists_query_counts_do_not_grow(dispatcher_client, committed_route, django_assert_num_queries):
    dispatcher_client.post(f"{BASE}/routes/{committed_route.pk}/start/")
    dispatcher_client.post(f"{BASE}/routes/{committed_route.pk}/complete/", _complete_body(committed_route))
    with django_assert_num_queries(6):
        assert dispatcher_client.get(f"{BASE}/outcomes/").json()["count"] == 1
    with django_assert_num_queries(6):
        assert dispatcher_client.get(f"{BASE}/hubs/").json()["count"] == 1
    with django_assert_num_queries(6):
        assert dispatcher_client.get(f"{BASE}/routes/{committed_route.pk}/").json()["stops"]
