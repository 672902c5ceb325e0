"""Properties of the instance builder, the solver adapter and the result interpreter, on random
instances: whatever the solver returns, the plan we store obeys the rules."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logistics import planning
from logistics.choices import CompatibilityClass, LeftOutReason, Priority

HUB = planning.PlanHub(-1.3067, 36.8510)
COSTS = planning.PlanCosts()
SCREENED = {LeftOutReason.TOO_HEAVY, LeftOutReason.WINDOW_UNREACHABLE, LeftOutReason.NO_COMPATIBLE_VEHICLE}


@st.composite
def orders(draw, n):
    result = []
    for i in range(n):
        start = draw(st.integers(0, 600))
        result.append(
            planning.PlanOrder(
                id=f"o{i}",
                reference=f"ORD-{i}",
                latitude=draw(st.floats(-1.5, 1.2)),
                longitude=draw(st.floats(34.5, 37.0)),
                weight=draw(st.sampled_from([0.2, 0.5, 1.0, 2.0, 3.5, 6.0, 12.0])),
                volume=draw(st.sampled_from([0.5, 2.0, 5.0, 10.0, 30.0])),
                window_start_min=start,
                window_end_min=start + draw(st.sampled_from([60, 240, 720, 2880])),
                service_min=draw(st.sampled_from([0, 15, 30])),
                priority=draw(st.sampled_from([Priority.NORMAL, Priority.NORMAL, Priority.HIGH, Priority.URGENT])),
                handling=draw(st.sampled_from(["general", "general", "fragile", "fresh_food", "hazardous"])),
                price=draw(st.sampled_from([100.0, 20_000.0, 80_000.0, 200_000.0])),
            )
        )
    return result


@st.composite
def vehicles(draw, n):
    return [
        planning.PlanVehicle(
            id=f"v{j}",
            reference=f"V{j}",
            vehicle_type=draw(st.sampled_from(["5T", "10T"])),
            capacity_weight=draw(st.sampled_from([3.0, 5.0, 10.0])),
            capacity_volume=draw(st.sampled_from([10.0, 25.0, 45.0])),
            refrigerated=draw(st.booleans()),
            hazmat_certified=draw(st.booleans()),
            available_from_min=draw(st.sampled_from([0, 0, 120])),
            fuel_cost_per_km=draw(st.sampled_from([80.0, 120.0])),
            driver_cost_per_hour=draw(st.sampled_from([450.0, 550.0])),
        )
        for j in range(n)
    ]


instances = st.integers(1, 12).flatmap(lambda n: st.tuples(orders(n), st.integers(1, 4).flatmap(vehicles)))


def _solve(order_list, vehicle_list):
    instance = planning.build_instance(hub=HUB, orders=order_list, vehicles=vehicle_list, costs=COSTS)
    return instance, planning.plan(instance, time_limit=0.5, max_iterations=60, seed=1)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(instances)
def test_plans_obey_capacity_compatibility_windows_and_totals(data):
    order_list, vehicle_list = data
    instance, plan = _solve(order_list, vehicle_list)

    routed = [s.order.id for r in plan.routes for s in r.stops]
    assert len(routed) == len(set(routed)), "an order on two routes"
    assert set(routed) | set(plan.left_out) == {o.id for o in order_list}
    assert not set(routed) & set(plan.left_out)
    assert len({r.vehicle.id for r in plan.routes}) == len(plan.routes)
    for route in plan.routes:
        v = route.vehicle
        assert route.stops
        assert sum(s.order.weight for s in route.stops) <= v.capacity_weight + 1e-9
        assert sum(s.order.volume for s in route.stops) <= v.capacity_volume + 1e-9
        classes = {s.order.compatibility for s in route.stops}
        assert len(classes) == 1, "incompatible goods share a vehicle"
        (cls,) = classes
        assert cls != CompatibilityClass.FRESH_FOOD or v.refrigerated
        assert cls != CompatibilityClass.HAZARDOUS or v.hazmat_certified
        for stop in route.stops:
            assert stop.order.window_start_min <= stop.arrival_min <= stop.order.window_end_min + 1e-9
        assert [s.arrival_min for s in route.stops] == sorted(s.arrival_min for s in route.stops)
        assert abs(route.distance_km - (sum(s.leg_km for s in route.stops) + route.return_km)) < 1e-6
        assert abs(route.cost - planning.route_cost(v, route.distance_km, route.duration_min, COSTS)) < 1e-6
    assert abs(plan.total_cost - sum(r.cost for r in plan.routes)) < 1e-6


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(instances)
def test_urgent_orders_are_never_left_out_while_a_feasible_vehicle_is_free(data):
    order_list, vehicle_list = data
    instance, plan = _solve(order_list, vehicle_list)
    used = {r.vehicle.id for r in plan.routes}
    free = [v for v in vehicle_list if v.id not in used]
    for position, order in enumerate(order_list):
        if order.priority != Priority.URGENT or order.id not in plan.left_out:
            continue
        assert plan.left_out[order.id] != LeftOutReason.NOT_WORTH_A_VEHICLE
        if plan.left_out[order.id] in SCREENED:
            continue
        for v in free:
            fits = (
                v.carries(order.compatibility)
                and order.weight <= v.capacity_weight
                and order.volume <= v.capacity_volume
            )
            departure = max(HUB.opens_min, v.available_from_min)
            reachable = (
                departure + instance.duration[0, position + 1] / instance.units.time_per_minute <= order.window_end_min
            )
            assert not (fits and reachable), f"{order.reference} left out while {v.reference} is free"


def test_the_checker_refuses_a_plan_that_breaks_the_rules():
    order_list = [
        planning.PlanOrder("a", "A", -0.3031, 36.08, 4.0, 2.0, 0, 3000, 10, handling="fresh_food", price=90_000),
        planning.PlanOrder("b", "B", -0.3031, 36.08, 4.0, 2.0, 0, 3000, 10, handling="hazardous", price=90_000),
    ]
    truck = planning.PlanVehicle("v", "V", "5T", 5.0, 20.0)
    instance = planning.build_instance(hub=HUB, orders=order_list, vehicles=[truck], costs=COSTS)
    stops = [planning.PlannedStop(o, i + 1, 200.0 + i, float(instance.km[i, i + 1])) for i, o in enumerate(order_list)]
    back = float(instance.km[2, 0])
    distance = sum(s.leg_km for s in stops) + back
    route = planning.PlannedRoute(
        truck, stops, 0, 300, back, distance, 300, planning.route_cost(truck, distance, 300, COSTS)
    )
    bad = planning.Plan([route], {}, route.cost, distance, {})
    try:
        planning.check_plan(instance, bad)
    except planning.PlanningError as exc:
        message = str(exc)
    else:
        raise AssertionError("the checker accepted an overloaded, mixed plan")
    assert "over capacity" in message and "mixes" in message and "cannot carry" in message


def _exact_timeline(instance, route):
    """Service starts along a route from its departure, on exact travel times (no rounding)."""
    position = {order.id: i + 1 for i, order in enumerate(instance.orders)}
    speed = instance.costs.average_speed_kmh
    clock, here, starts = route.start_min, 0, []
    for stop in route.stops:
        there = position[stop.order.id]
        clock = max(clock + float(instance.km[here, there]) / speed * 60, stop.order.window_start_min)
        starts.append(clock)
        clock += stop.order.service_min
        here = there
    return starts, clock + float(instance.km[here, 0]) / speed * 60


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(instances)
def test_arrivals_are_never_earlier_than_exact_travel_and_service(data):
    order_list, vehicle_list = data
    instance, plan = _solve(order_list, vehicle_list)
    for route in plan.routes:
        starts, back = _exact_timeline(instance, route)
        for stop, exact in zip(route.stops, starts, strict=True):
            assert stop.arrival_min >= exact - 1e-9, f"{stop.order.reference} promised before it can be reached"
            assert exact <= stop.order.window_end_min + 1e-9
        assert route.end_min >= back - 1e-9
        assert route.start_min >= max(HUB.opens_min, route.vehicle.available_from_min)


def test_rounding_each_leg_never_makes_a_route_quicker_than_it_is():
    # Twelve drops 0.4 min apart along a line: rounded to whole minutes each leg would take 0 minutes.
    step = 0.4 / 60 * COSTS.average_speed_kmh / COSTS.road_factor / 111.19  # degrees for 0.4 min of driving
    order_list = [
        planning.PlanOrder(f"o{i}", f"ORD-{i}", -1.3067, 36.8510 + step * (i + 1), 0.1, 0.1, 0, 10 + 0.4 * i, 0)
        for i in range(12)
    ]
    truck = planning.PlanVehicle("v", "V", "10T", 10.0, 45.0)
    instance = planning.build_instance(hub=HUB, orders=order_list, vehicles=[truck], costs=COSTS)
    assert (instance.duration[0, 1:] >= [instance.travel_min(0, i + 1) * 60 for i in range(12)]).all()
    plan = planning.plan(instance, time_limit=0.5, max_iterations=60, seed=1)
    for route in plan.routes:
        starts, back = _exact_timeline(instance, route)
        assert [s.arrival_min for s in route.stops] == pytest.approx(starts, abs=1e-9)
        assert all(s.arrival_min <= s.order.window_end_min + 1e-9 for s in route.stops)


def _one_stop_plan(arrival_min, *, start_min=0.0, available_from_min=0.0):
    order = planning.PlanOrder("a", "A", -0.3031, 36.08, 1.0, 1.0, 0, 300, 10)
    truck = planning.PlanVehicle("v", "V", "10T", 10.0, 45.0, available_from_min=available_from_min)
    instance = planning.build_instance(hub=HUB, orders=[order], vehicles=[truck], costs=COSTS)
    leg, back = float(instance.km[0, 1]), float(instance.km[1, 0])
    end = max(start_min + instance.travel_min(0, 1), arrival_min) + 10 + instance.travel_min(1, 0)
    stop = planning.PlannedStop(order, 1, arrival_min, leg)
    cost = planning.route_cost(truck, leg + back, end - start_min, COSTS)
    route = planning.PlannedRoute(truck, [stop], start_min, end, back, leg + back, end - start_min, cost)
    return instance, planning.Plan([route], {}, cost, leg + back, {})


def test_the_checker_recomputes_the_timeline_on_unrounded_times():
    instance, _ = _one_stop_plan(0)
    exact = instance.travel_min(0, 1)  # Nakuru: about 189 minutes
    planning.check_plan(*_one_stop_plan(exact))
    planning.check_plan(*_one_stop_plan(exact + 30))  # waiting is allowed
    with pytest.raises(planning.InfeasiblePlan, match="promised 0.50 min before it can be"):
        planning.check_plan(*_one_stop_plan(exact - 0.5))
    with pytest.raises(planning.InfeasiblePlan, match="after its window closes"):
        planning.check_plan(*_one_stop_plan(300.5))
    with pytest.raises(planning.InfeasiblePlan, match="before the hub opens or it is free"):
        planning.check_plan(*_one_stop_plan(exact + 60, start_min=0, available_from_min=30))
