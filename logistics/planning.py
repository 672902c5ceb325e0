"""Our side of route planning: the instance we hand the solver and how we read its answer.

* ``build_instance`` turns a hub, orders, vehicles and the cost model into integer matrices and
  attributes (distances from great-circle distance × the road factor, durations from the average
  speed, windows in minutes from the planning start, weight and volume as two load dimensions, a
  heterogeneous fleet with per-type costs and a fixed cost, priorities as prizes, urgent orders
  required). It screens out orders no vehicle could ever take, with the reason.
* Goods that may not share a vehicle are planned in separate solves per compatibility class:
  hazardous goods on certified vehicles, fresh food on refrigerated ones, then the rest on every
  vehicle still free.
* ``interpret`` maps the solver's routes back onto vehicles and orders with times, distances and
  costs; ``check_plan`` is our own feasibility and cost check, run on every plan before it is stored.

Time model. The solver takes integer durations, so it works in seconds with every travel and service
time rounded *up* and every window end rounded *down* (window starts and departures up): whatever the
solver believes on time is on time for real. The times we promise are never the solver's: ``interpret``
recomputes each route's timeline from the unrounded road distances, and ``check_plan`` re-checks that
timeline on unrounded times. Money in the solver is in cents, so a driver's cost per second stays an
integer.

No database access here: the same code plans from the API's snapshot and from benchmark files.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from . import solver
from .choices import CompatibilityClass, LeftOutReason, Priority, compatibility_class

EARTH_RADIUS_KM = 6371.0088
CLASS_ORDER = (CompatibilityClass.HAZARDOUS, CompatibilityClass.FRESH_FOOD, CompatibilityClass.GENERAL)
PRIORITY_PRIZE_FACTOR = {Priority.NORMAL: 1.0, Priority.HIGH: 2.0}
TOLERANCE = 1e-6  # minutes (60 µs), kilometres, KES: float noise, not slack
CAPACITY_TOLERANCE = 1e-9  # tonnes, m³


class PlanningError(Exception):
    """No plan could be made (or, as ``InfeasiblePlan``, the plan made breaks a rule)."""


class InfeasiblePlan(PlanningError):
    """``check_plan`` found a rule the plan breaks: a bug in our translation or the solver, never
    something to store."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class PlanHub:
    latitude: float
    longitude: float
    opens_min: float = 0.0  # minutes after the planning start when vehicles may leave
    closes_min: float | None = None  # vehicles back by then (None: no return deadline)


@dataclass(frozen=True)
class PlanOrder:
    id: str
    reference: str
    latitude: float
    longitude: float
    weight: float
    volume: float
    window_start_min: float
    window_end_min: float
    service_min: float
    priority: str = Priority.NORMAL
    handling: str = "general"
    price: float = 0.0
    city: str = ""

    @property
    def compatibility(self) -> str:
        return compatibility_class(self.handling)


@dataclass(frozen=True)
class PlanVehicle:
    id: str
    reference: str
    vehicle_type: str
    capacity_weight: float
    capacity_volume: float
    refrigerated: bool = False
    hazmat_certified: bool = False
    available_from_min: float = 0.0
    fuel_cost_per_km: float = 100.0
    driver_cost_per_hour: float = 500.0

    def carries(self, compatibility: str) -> bool:
        if compatibility == CompatibilityClass.FRESH_FOOD:
            return self.refrigerated
        if compatibility == CompatibilityClass.HAZARDOUS:
            return self.hazmat_certified
        return True


@dataclass(frozen=True)
class PlanCosts:
    average_speed_kmh: float = 50.0
    road_factor: float = 1.3
    fixed_cost_per_vehicle: float = 5000.0
    metric: str = "haversine"  # or "euclidean": coordinates are kilometres on a plane (benchmarks)


@dataclass(frozen=True)
class Units:
    """Integer units the solver works in. Real plans: kilometres, seconds, kilograms/litres and KES
    cents. Benchmarks with one-decimal distances use 10 per km, truncated, and their own money unit.
    Durations are always rounded up (``durations``): the solver never believes a leg quicker than it is."""

    distance_per_km: int = 1
    time_per_minute: int = 60
    load_per_unit: int = 1000
    money_per_kes: int = 100
    truncate: bool = False  # distances only (the literature's convention); times are never truncated

    def to_int(self, values):
        scaled = np.asarray(values, dtype=np.float64)
        return (np.floor(scaled + 1e-9) if self.truncate else np.rint(scaled)).astype(np.int64)

    def durations(self, minutes):
        """Minutes → whole time units, rounded up (float noise of a millionth of a unit aside)."""
        return np.ceil(np.asarray(minutes, dtype=np.float64) * self.time_per_minute - 1e-6).astype(np.int64)


@dataclass
class Instance:
    hub: PlanHub
    orders: list[PlanOrder]
    vehicles: list[PlanVehicle]
    costs: PlanCosts
    units: Units
    km: np.ndarray  # (n+1, n+1) road km, index 0 the hub, i+1 order i
    distance: np.ndarray  # integer solver units
    duration: np.ndarray  # integer solver units
    screened_out: dict[int, str] = field(default_factory=dict)  # order position → reason

    def travel_min(self, a: int, b: int) -> float:
        """Unrounded driving minutes between two matrix positions (0 the hub, i + 1 order i)."""
        return float(travel_minutes(self.km[a, b], self.costs))

    @property
    def routable(self) -> list[int]:
        return [i for i in range(len(self.orders)) if i not in self.screened_out]


@dataclass
class PlannedStop:
    order: PlanOrder
    sequence: int
    arrival_min: float
    leg_km: float


@dataclass
class PlannedRoute:
    vehicle: PlanVehicle
    stops: list[PlannedStop]
    start_min: float
    end_min: float
    return_km: float
    distance_km: float
    duration_min: float
    cost: float


@dataclass
class Plan:
    routes: list[PlannedRoute]
    left_out: dict[str, str]  # order id → reason
    total_cost: float
    total_distance_km: float
    stats: dict


def road_km_matrix(points: np.ndarray, costs: PlanCosts) -> np.ndarray:
    """Road distance between every pair of (lat, lon) points: great-circle × road factor."""
    if costs.metric == "euclidean":
        diff = points[:, None, :] - points[None, :, :]
        return np.sqrt((diff**2).sum(axis=2)) * costs.road_factor
    lat = np.radians(points[:, 0])[:, None]
    lon = np.radians(points[:, 1])[:, None]
    dlat = lat - lat.T
    dlon = lon - lon.T
    a = np.sin(dlat / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1))) * costs.road_factor


def travel_minutes(km, costs: PlanCosts):
    """Unrounded driving time for a road distance: the time model every promise is made in."""
    return np.asarray(km, dtype=np.float64) / costs.average_speed_kmh * 60


def route_cost(vehicle: PlanVehicle, distance_km: float, duration_min: float, costs: PlanCosts) -> float:
    return (
        costs.fixed_cost_per_vehicle
        + distance_km * vehicle.fuel_cost_per_km
        + duration_min / 60 * vehicle.driver_cost_per_hour
    )


def build_instance(
    *, hub: PlanHub, orders: list[PlanOrder], vehicles: list[PlanVehicle], costs: PlanCosts, units: Units = Units()
) -> Instance:
    points = np.array([(hub.latitude, hub.longitude)] + [(o.latitude, o.longitude) for o in orders], dtype=np.float64)
    km = road_km_matrix(points, costs)
    distance = units.to_int(km * units.distance_per_km)
    duration = units.durations(travel_minutes(km, costs))
    instance = Instance(hub, list(orders), list(vehicles), costs, units, km, distance, duration)
    instance.screened_out = _screen(instance)
    return instance


def _screen(instance: Instance) -> dict[int, str]:
    """Orders no vehicle of the fleet could take on any plan, with the reason."""
    reasons = {}
    units = instance.units
    fleets = {}
    for cls in CLASS_ORDER:
        compatible = [v for v in instance.vehicles if v.carries(cls)]
        fleets[cls] = (
            np.array([_capacity(v.capacity_weight, units) for v in compatible], dtype=np.int64),
            np.array([_capacity(v.capacity_volume, units) for v in compatible], dtype=np.int64),
            np.array([_vehicle_tw_early(v, instance) for v in compatible], dtype=np.int64),
        )
    for i, order in enumerate(instance.orders):
        weights, volumes, departures = fleets[order.compatibility]
        if not len(weights):
            reasons[i] = LeftOutReason.NO_COMPATIBLE_VEHICLE
            continue
        fitting = (weights >= _demand(order.weight, units)) & (volumes >= _demand(order.volume, units))
        if not fitting.any():
            reasons[i] = LeftOutReason.TOO_HEAVY
            continue
        opens, closes = _time_up(order.window_start_min, units), _time_down(order.window_end_min, units)
        if departures[fitting].min() + instance.duration[0, i + 1] > closes or opens > closes:
            reasons[i] = LeftOutReason.WINDOW_UNREACHABLE
    return reasons


# Loads round the same safe way: demands up, capacities down (exact for tonnes and m³ to three decimals).
def _demand(value: float, units: Units) -> int:
    return int(math.ceil(value * units.load_per_unit - 1e-6))


def _capacity(value: float, units: Units) -> int:
    return int(math.floor(value * units.load_per_unit + 1e-6))


# Moments the solver may not be earlier than (window starts, departures, service times) round up;
# moments it may not be later than (window ends, the hub's closing) round down.
def _time_up(minutes: float, units: Units) -> int:
    return int(math.ceil(minutes * units.time_per_minute - 1e-6))


def _time_down(minutes: float, units: Units) -> int:
    return int(math.floor(minutes * units.time_per_minute + 1e-6))


def _earliest_departure_min(vehicle: PlanVehicle, hub: PlanHub) -> float:
    return max(hub.opens_min, vehicle.available_from_min, 0.0)


def _vehicle_tw_early(vehicle: PlanVehicle, instance: Instance) -> int:
    return _time_up(_earliest_departure_min(vehicle, instance.hub), instance.units)


def _money(kes: float, units: Units) -> int:
    return int(round(kes * units.money_per_kes))


def _prize(order: PlanOrder, units: Units) -> int:
    return _money(order.price * PRIORITY_PRIZE_FACTOR.get(order.priority, 1.0), units)


def class_problem(
    instance: Instance, positions: list[int], vehicles: list[PlanVehicle], *, urgent_required: bool = True
) -> tuple[solver.SolverProblem, list[list[PlanVehicle]]]:
    """The solver problem for some orders (positions in ``instance.orders``) on some vehicles.
    Vehicles with identical attributes form one vehicle type; the second value lists each type's vehicles."""
    units = instance.units
    index = [0] + [p + 1 for p in positions]
    sub = np.ix_(index, index)
    # Leaving an urgent order out must cost more than any plan that serves it: more than every
    # other prize, every fixed cost and a return trip to each order at the dearest rates.
    distance_rate = max((_distance_rate(v, units) for v in vehicles), default=1) + 1
    duration_rate = max((_duration_rate(v, units) for v in vehicles), default=1) + 1
    legs = [p + 1 for p in positions]
    reach = 2 * (
        int(instance.distance[0, legs].sum()) * distance_rate + int(instance.duration[0, legs].sum()) * duration_rate
    )
    urgent_prize = 1 + 10 * (
        sum(_prize(instance.orders[p], units) for p in positions)
        + _money(instance.costs.fixed_cost_per_vehicle, units) * len(vehicles)
        + reach
    )
    clients = []
    for local, p in enumerate(positions, start=1):
        order = instance.orders[p]
        urgent = order.priority == Priority.URGENT
        clients.append(
            solver.SolverClient(
                location=local,
                demand=(_demand(order.weight, units), _demand(order.volume, units)),
                service=_time_up(order.service_min, units),
                tw_early=max(0, _time_up(order.window_start_min, units)),
                tw_late=_time_down(order.window_end_min, units),
                prize=urgent_prize if urgent else _prize(order, units),
                required=urgent and urgent_required,
            )
        )
    groups: dict[tuple, list[PlanVehicle]] = defaultdict(list)
    for vehicle in sorted(vehicles, key=lambda v: v.reference):
        key = (
            _capacity(vehicle.capacity_weight, units),
            _capacity(vehicle.capacity_volume, units),
            _distance_rate(vehicle, units),
            _duration_rate(vehicle, units),
            _vehicle_tw_early(vehicle, instance),
        )
        groups[key].append(vehicle)
    keys = sorted(groups)
    vehicle_types = [
        solver.SolverVehicleType(
            count=len(groups[key]),
            capacity=(key[0], key[1]),
            fixed_cost=_money(instance.costs.fixed_cost_per_vehicle, units),
            unit_distance_cost=key[2],
            unit_duration_cost=key[3],
            tw_early=key[4],
            tw_late=solver.UNBOUNDED if instance.hub.closes_min is None else _time_down(instance.hub.closes_min, units),
        )
        for key in keys
    ]
    problem = solver.SolverProblem(
        distance=instance.distance[sub],
        duration=instance.duration[sub],
        clients=clients,
        vehicle_types=vehicle_types,
    )
    return problem, [groups[key] for key in keys]


def _distance_rate(vehicle: PlanVehicle, units: Units) -> int:
    return _money(vehicle.fuel_cost_per_km / units.distance_per_km, units)


def _duration_rate(vehicle: PlanVehicle, units: Units) -> int:
    return _money(vehicle.driver_cost_per_hour / 60 / units.time_per_minute, units)


def plan(
    instance: Instance, *, time_limit: float, max_iterations: int | None = None, seed: int = 1, progress=None
) -> Plan:
    """Solve every compatibility class in turn on the vehicles still free, read the routes back,
    and check the whole plan."""
    by_class: dict[str, list[int]] = {c: [] for c in CLASS_ORDER}
    for p in instance.routable:
        by_class[instance.orders[p].compatibility].append(p)
    total = max(1, sum(len(v) for v in by_class.values()))
    free = list(instance.vehicles)
    routes: list[PlannedRoute] = []
    left_out = {instance.orders[p].id: reason for p, reason in instance.screened_out.items()}
    stats = {"solver": solver.NAME, "classes": {}}
    for cls in CLASS_ORDER:
        positions = by_class[cls]
        if not positions:
            continue
        eligible = [v for v in free if v.carries(cls)]
        if not eligible:
            for p in positions:
                left_out[instance.orders[p].id] = LeftOutReason.NO_CAPACITY_LEFT
            continue
        share = time_limit * len(positions) / total
        result, vehicle_pools, urgent_relaxed = _solve_class(instance, positions, eligible, share, max_iterations, seed)
        class_routes = interpret(instance, positions, result, vehicle_pools)
        routes.extend(class_routes)
        used = {r.vehicle.id for r in class_routes}
        free = [v for v in free if v.id not in used]
        for local in result.unplanned:
            order = instance.orders[positions[local]]
            reason = (
                LeftOutReason.NO_CAPACITY_LEFT
                if order.priority == Priority.URGENT
                else LeftOutReason.NOT_WORTH_A_VEHICLE
            )
            left_out[order.id] = reason
        stats["classes"][str(cls)] = {
            **result.stats,
            "orders": len(positions),
            "vehicles": len(eligible),
            "routes": len(class_routes),
            "urgent_relaxed": urgent_relaxed,
        }
        if progress:
            progress(cls, len(positions), len(class_routes))
    result_plan = Plan(
        routes=routes,
        left_out=left_out,
        total_cost=sum(r.cost for r in routes),
        total_distance_km=sum(r.distance_km for r in routes),
        stats=stats,
    )
    check_plan(instance, result_plan)
    return result_plan


def _solve_class(instance, positions, eligible, time_limit, max_iterations, seed):
    problem, pools = class_problem(instance, positions, eligible)
    result = solver.solve(problem, time_limit=time_limit, max_iterations=max_iterations, seed=seed)
    if result.feasible:
        return result, pools, False
    # No plan serving every urgent order was found: keep them as strongly preferred instead (a prize
    # above any plan's cost), with half the time again, and report those left out.
    problem, pools = class_problem(instance, positions, eligible, urgent_required=False)
    result = solver.solve(problem, time_limit=time_limit / 2, max_iterations=max_iterations, seed=seed)
    if not result.feasible:
        raise PlanningError("The solver found no feasible plan within the time limit.")
    return result, pools, True


def interpret(
    instance: Instance, positions: list[int], result: solver.SolverResult, pools: list[list[PlanVehicle]]
) -> list[PlannedRoute]:
    """Solver routes → vehicles, ordered stops with arrival times, leg distances, totals and cost.

    Only the order of the stops and the departure are the solver's. Each arrival (the moment service
    starts: on arrival, or when the window opens) is recomputed from the unrounded travel times; the
    solver's own times were rounded up, so these are never later than what it believed on time."""
    tpm = instance.units.time_per_minute
    next_vehicle = [0] * len(pools)
    routes = []
    for sroute in result.routes:
        pool = pools[sroute.vehicle_type]
        vehicle = pool[next_vehicle[sroute.vehicle_type]]
        next_vehicle[sroute.vehicle_type] += 1
        departure = sroute.start_time / tpm
        clock, previous, stops = departure, 0, []
        for sequence, local in enumerate(sroute.clients, start=1):
            p = positions[local]
            order = instance.orders[p]
            arrival = max(clock + instance.travel_min(previous, p + 1), order.window_start_min)
            stops.append(
                PlannedStop(
                    order=order, sequence=sequence, arrival_min=arrival, leg_km=float(instance.km[previous, p + 1])
                )
            )
            clock = arrival + order.service_min
            previous = p + 1
        return_km = float(instance.km[previous, 0])
        end = clock + instance.travel_min(previous, 0)
        distance_km = sum(s.leg_km for s in stops) + return_km
        routes.append(
            PlannedRoute(
                vehicle=vehicle,
                stops=stops,
                start_min=departure,
                end_min=end,
                return_km=return_km,
                distance_km=distance_km,
                duration_min=end - departure,
                cost=route_cost(vehicle, distance_km, end - departure, instance.costs),
            )
        )
    return routes


def check_plan(instance: Instance, plan_: Plan) -> None:
    """Our own check of a plan, independent of the solver and of ``interpret``: raises
    ``InfeasiblePlan`` naming every broken rule — capacity (exact loads), compatibility, one route
    per order and per vehicle, totals, costs, and the timeline recomputed on unrounded travel times:
    no departure before the hub opens or the vehicle is available, no arrival promised before it can
    be reached or after the window closes, no return after the hub closes."""
    problems = []
    costs = instance.costs
    position = {order.id: i for i, order in enumerate(instance.orders)}
    seen_orders: set[str] = set()
    seen_vehicles: set[str] = set()
    for route in plan_.routes:
        v = route.vehicle
        name = v.reference
        if v.id in seen_vehicles:
            problems.append(f"{name}: vehicle used on two routes")
        seen_vehicles.add(v.id)
        if not route.stops:
            problems.append(f"{name}: route without stops")
        weight = sum(s.order.weight for s in route.stops)
        volume = sum(s.order.volume for s in route.stops)
        if weight > v.capacity_weight + CAPACITY_TOLERANCE:
            problems.append(f"{name}: {weight:g} t over capacity {v.capacity_weight:g} t")
        if volume > v.capacity_volume + CAPACITY_TOLERANCE:
            problems.append(f"{name}: {volume:g} m³ over capacity {v.capacity_volume:g} m³")
        classes = {s.order.compatibility for s in route.stops}
        if len(classes) > 1:
            problems.append(f"{name}: mixes {', '.join(sorted(classes))}")
        for cls in classes:
            if not v.carries(cls):
                problems.append(f"{name}: cannot carry {cls}")
        # The timeline, recomputed on unrounded times. A promise later than the earliest possible
        # arrival is allowed (the driver waits); an earlier one is not.
        earliest = max(instance.hub.opens_min, v.available_from_min, 0.0)
        if route.start_min < earliest - TOLERANCE:
            problems.append(f"{name}: leaves {earliest - route.start_min:.2f} min before the hub opens or it is free")
        t = route.start_min
        previous = 0
        km = 0.0
        for stop in route.stops:
            order = stop.order
            if order.id in seen_orders:
                problems.append(f"{order.reference}: on more than one route")
            seen_orders.add(order.id)
            here = position[order.id] + 1
            t = max(t + float(instance.km[previous, here]) / costs.average_speed_kmh * 60, order.window_start_min)
            if stop.arrival_min < t - TOLERANCE:
                problems.append(f"{order.reference}: arrival promised {t - stop.arrival_min:.2f} min before it can be")
            t = max(t, stop.arrival_min)
            if t > order.window_end_min + TOLERANCE:
                problems.append(
                    f"{order.reference}: arrives {t - order.window_end_min:.2f} min after its window closes"
                )
            if abs(stop.leg_km - instance.km[previous, here]) > TOLERANCE:
                problems.append(f"{order.reference}: leg distance does not match")
            km += stop.leg_km
            t += order.service_min
            previous = here
        t += float(instance.km[previous, 0]) / costs.average_speed_kmh * 60
        if route.end_min < t - TOLERANCE:
            problems.append(f"{name}: return promised {t - route.end_min:.2f} min before it can be")
        t = max(t, route.end_min)
        if instance.hub.closes_min is not None and t > instance.hub.closes_min + TOLERANCE:
            problems.append(f"{name}: back {t - instance.hub.closes_min:.2f} min after the hub closes")
        if abs(route.duration_min - (route.end_min - route.start_min)) > TOLERANCE:
            problems.append(f"{name}: duration is not return minus departure")
        km += route.return_km
        if abs(km - route.distance_km) > TOLERANCE or abs(route.return_km - instance.km[previous, 0]) > TOLERANCE:
            problems.append(f"{name}: distance is not the sum of its legs")
        expected = route_cost(v, route.distance_km, route.duration_min, costs)
        if abs(expected - route.cost) > TOLERANCE * max(1.0, expected):
            problems.append(f"{name}: cost does not match the cost model")
    for order_id in plan_.left_out:
        if order_id in seen_orders:
            problems.append(f"{order_id}: both routed and left out")
    missing = set(position) - seen_orders - set(plan_.left_out)
    if missing:
        problems.append(f"{len(missing)} order(s) neither routed nor left out")
    if abs(plan_.total_cost - sum(r.cost for r in plan_.routes)) > TOLERANCE * max(1.0, plan_.total_cost):
        problems.append("total cost is not the sum of the routes")
    if problems:
        raise InfeasiblePlan(problems)
