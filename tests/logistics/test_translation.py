"""The pure translation between rows, the decision's snapshot, the planner's instance and the stored plan:
rounding only ever narrows a window or delays a promise."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

from logistics import planning, translation

START = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


def _order(**overrides):
    fields = {
        "pk": "o1",
        "reference": "ORD-1",
        "version": 1,
        "status": "pending",
        "destination_city": "Nakuru",
        "destination_latitude": -0.3031,
        "destination_longitude": 36.08,
        "weight_t": Decimal("1.5"),
        "volume_m3": Decimal("3"),
        "window_start": START,
        "window_end": START + timedelta(hours=8),
        "service_minutes": None,
        "priority": "normal",
        "handling": "general",
        "price_kes": Decimal("80000"),
    }
    return SimpleNamespace(**{**fields, **overrides})


def test_windows_in_the_snapshot_are_never_wider_than_the_real_ones():
    order = _order(
        window_start=START + timedelta(seconds=0.03),  # 0.0005 min: rounds up to 0.001
        window_end=START + timedelta(minutes=1, seconds=0.059),  # 1.00098 min: rounds down to 1.0
    )
    snapshot = translation.order_snapshot(order, START, default_service=20)
    assert snapshot["window_start_min"] == 0.001 and snapshot["window_end_min"] == 1.0
    assert snapshot["service_min"] == 20
    exact = translation.order_snapshot(_order(), START, default_service=20)
    assert (exact["window_start_min"], exact["window_end_min"]) == (0.0, 480.0)


def test_the_hub_opening_rounds_up_and_an_open_hub_is_zero():
    hub = SimpleNamespace(pk="h", name="Hub", latitude=0, longitude=36, opening_time=time(9, 0), closing_time=time(17))
    assert translation.hub_opens_min(hub, START) == 60.0
    assert translation.hub_opens_min(hub, START + timedelta(hours=2)) == 0.0
    assert translation.hub_opens_min(hub, START + timedelta(minutes=0.0001)) == 60.0  # 59.9999: never earlier


def test_stored_moments_round_up_to_the_microsecond():
    assert translation.moment(START, 1 / 3) == START + timedelta(seconds=20)
    assert translation.moment(START, 1e-9) == START + timedelta(microseconds=1)
    assert translation.moment(START, 90.0) == START + timedelta(minutes=90)


def test_a_plan_round_trips_from_snapshot_to_stored_json_without_earlier_promises():
    snapshot = {
        "hub": {"id": "h", "name": "Hub", "latitude": -1.3067, "longitude": 36.8510, "opens_min": 0.0},
        "cost_model": {"average_speed_kmh": 47.0, "road_factor": 1.3, "fixed_cost_per_vehicle": 5000.0},
        "orders": [
            translation.order_snapshot(_order(pk=f"o{i}", reference=f"ORD-{i}"), START, default_service=17)
            for i in range(3)
        ],
        "vehicles": [
            {
                "id": "v",
                "reference": "KCA 001B",
                "vehicle_type": "10T",
                "capacity_weight_t": 10.0,
                "capacity_volume_m3": 45.0,
                "refrigerated": False,
                "hazmat_certified": False,
                "available_from_min": 0.0,
                "fuel_cost_per_km": 100.0,
                "driver_cost_per_hour": 500.0,
            }
        ],
    }
    instance = translation.instance_from_snapshot(snapshot)
    plan = planning.plan(instance, time_limit=0.5, max_iterations=60, seed=1)
    stored = translation.plan_to_json(plan, START)
    assert stored["orders_routed"] and translation.left_out_json(plan, snapshot["orders"]) == []
    for route, saved in zip(plan.routes, stored["routes"], strict=True):
        for stop, saved_stop in zip(route.stops, saved["stops"], strict=True):
            promised = datetime.fromisoformat(saved_stop["estimated_arrival"])
            assert timedelta(0) <= promised - (START + timedelta(minutes=stop.arrival_min)) < timedelta(microseconds=2)
