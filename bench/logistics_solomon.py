"""Planning quality on standard VRP-with-time-windows instances (Solomon), through the same
instance builder the API uses.

    .venv/bin/python bench/logistics_solomon.py [--seconds 10] [--dir ../shared/vrp-instances] [--instances R101,RC208]

Each instance becomes a hub, orders with plane coordinates, windows and service times, and a
fleet of identical vehicles as large as the best-known solution's; travel time equals distance
(60 km/h on kilometre coordinates) and the cost is the distance, so the solver minimises the same
thing the literature does. With ``--fewest-vehicles`` the instance's whole fleet is offered with a
fixed cost per vehicle that dominates distance, so vehicles are minimised first. Distances use the literature's convention (each leg truncated to one
decimal) and are compared with the best-known distance. Times are not truncated: the solver works in
seconds rounded up, and every plan passes ``planning.check_plan`` on exact (unrounded) travel times, as
plans through the API do, so a plan here is feasible on the benchmark's own data. No database is needed.
"""

import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from logistics import planning

DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent.parent / "shared" / "vrp-instances"
INSTANCES = ("C101", "RC101", "R201", "R208")


def read_solomon(path: Path):
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    numbers = [row for row in lines if all(re.fullmatch(r"-?\d+(\.\d+)?", cell) for cell in row)]
    vehicles, capacity = int(numbers[0][0]), int(numbers[0][1])
    customers = [[float(cell) for cell in row] for row in numbers[1:]]
    return vehicles, capacity, customers


def read_best_known(path: Path) -> tuple[float, int]:
    text = path.read_text()
    cost = float(re.search(r"Cost\s+([\d.]+)", text).group(1))
    routes = len(re.findall(r"^Route", text, flags=re.MULTILINE))
    return cost, routes


def build(customers, capacity, fleet_size, fixed_cost=0.0):
    depot, *rest = customers
    hub = planning.PlanHub(latitude=depot[1], longitude=depot[2], opens_min=depot[4], closes_min=depot[5])
    orders = [
        planning.PlanOrder(
            id=str(int(c[0])),
            reference=f"C{int(c[0])}",
            latitude=c[1],
            longitude=c[2],
            weight=c[3],
            volume=0.0,
            window_start_min=c[4],
            window_end_min=c[5],
            service_min=c[6],
            priority="urgent",  # every customer must be served
            price=0.0,
        )
        for c in rest
    ]
    fleet = [
        planning.PlanVehicle(
            id=f"v{i}",
            reference=f"V{i:02d}",
            vehicle_type="solomon",
            capacity_weight=capacity,
            capacity_volume=1.0,
            fuel_cost_per_km=10.0,  # one cost unit per tenth of a distance unit
            driver_cost_per_hour=0.0,
        )
        for i in range(fleet_size)
    ]
    costs = planning.PlanCosts(
        average_speed_kmh=60.0, road_factor=1.0, fixed_cost_per_vehicle=fixed_cost, metric="euclidean"
    )
    # Distances in tenths, truncated (the literature's objective); times in seconds, rounded up (never
    # quicker than the real leg); money in the instance's own unit.
    units = planning.Units(distance_per_km=10, load_per_unit=1, money_per_kes=1, truncate=True)
    return planning.build_instance(hub=hub, orders=orders, vehicles=fleet, costs=costs, units=units)


def literature_distance(instance, plan) -> float:
    position = {order.id: i + 1 for i, order in enumerate(instance.orders)}
    total = 0
    for route in plan.routes:
        stops = [0] + [position[s.order.id] for s in route.stops] + [0]
        total += sum(int(instance.distance[a, b]) for a, b in zip(stops, stops[1:], strict=False))
    return total / 10


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--instances", default=",".join(INSTANCES), help="Comma-separated names in --dir.")
    parser.add_argument(
        "--fewest-vehicles",
        action="store_true",
        help="The instance's whole fleet with a fixed cost per vehicle that dominates distance (vehicles first).",
    )
    args = parser.parse_args()
    print(f"{'instance':<9} {'best-known':>10} {'veh':>4} {'ours':>9} {'veh':>4} {'gap':>7} {'seconds':>8}")
    for name in args.instances.split(","):
        fleet, capacity, customers = read_solomon(args.dir / f"{name}.txt")
        best, best_vehicles = read_best_known(args.dir / f"{name}.sol")
        if args.fewest_vehicles:
            instance = build(customers, capacity, fleet, fixed_cost=100_000.0)
        else:
            instance = build(customers, capacity, best_vehicles)
        started = time.perf_counter()
        plan = planning.plan(instance, time_limit=args.seconds, seed=args.seed)
        elapsed = time.perf_counter() - started
        if plan.left_out:
            print(f"{name:<9} {best:>10.1f} {best_vehicles:>4}  {len(plan.left_out)} customers not served")
            continue
        ours = literature_distance(instance, plan)
        gap = (ours - best) / best * 100
        # A gap means something only for the same number of vehicles as the best-known solution.
        mark = "" if len(plan.routes) == best_vehicles else "  (other fleet size: not comparable)"
        print(
            f"{name:<9} {best:>10.1f} {best_vehicles:>4} {ours:>9.1f} {len(plan.routes):>4} {gap:>6.2f}% "
            f"{elapsed:>8.1f}{mark}"
        )


if __name__ == "__main__":
    main()
