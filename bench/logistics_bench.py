"""Dispatch planning at scale on a real PostgreSQL database: 2,000 pending orders onto 150 vehicles.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dispatch_dev .venv/bin/python bench/logistics_bench.py [--seconds 10]

The database must be migrated. Everything is written inside one transaction that is rolled back at
the end. It times, with query counts: taking the snapshot (``decision_create``), building the solver
instance from it, the solve within its time limit, storing the proposal, and the commit.
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from harness import Rollback  # noqa: E402

from logistics import planning, services  # noqa: E402
from logistics.models import CostModel, Customer, Hub, Order, Route, Vehicle, VehicleTypeRate  # noqa: E402

TOWNS = {
    "Nakuru": (-0.3031, 36.0800),
    "Eldoret": (0.5143, 35.2698),
    "Kitale": (1.0157, 35.0062),
    "Kisumu": (-0.0917, 34.7680),
    "Naivasha": (-0.7167, 36.4333),
    "Kericho": (-0.3677, 35.2831),
    "Kakamega": (0.2827, 34.7519),
    "Bungoma": (0.5635, 34.5606),
    "Nyeri": (-0.4201, 36.9476),
    "Meru": (0.0463, 37.6559),
    "Machakos": (-1.5177, 37.2634),
    "Thika": (-1.0333, 37.0693),
}


def measure(label, func):
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        result = func()
        elapsed = (time.perf_counter() - started) * 1000
    print(f"{label:<58} {elapsed:9.1f} ms   queries {len(captured.captured_queries)}")
    return result


def populate(orders: int, vehicles: int, seed: int = 5):
    rng = random.Random(seed)
    hub = Hub.objects.create(
        name=f"Bench hub {orders}", latitude=-1.3067, longitude=36.8510, opening_time="00:00", closing_time="23:59"
    )
    cm = CostModel.objects.order_by("created_at").first() or CostModel.objects.create()
    for vt, fuel, driver in (("5T", 80, 450), ("10T", 120, 550)):
        VehicleTypeRate.objects.get_or_create(
            cost_model=cm, vehicle_type=vt, defaults={"fuel_cost_per_km": fuel, "driver_cost_per_hour": driver}
        )
    customer = Customer.objects.create(reference=f"BENCH-C{orders}", name="Bench customer")
    now = timezone.now()
    names = list(TOWNS)
    Order.objects.bulk_create(
        [
            Order(
                reference=f"BENCH-{orders}-{i:05d}",
                customer=customer,
                hub=hub,
                destination_city=(town := rng.choice(names)),
                destination_latitude=TOWNS[town][0] + rng.uniform(-0.15, 0.15),
                destination_longitude=TOWNS[town][1] + rng.uniform(-0.15, 0.15),
                weight_t=Decimal(str(round(rng.uniform(0.2, 2.0), 2))),
                volume_m3=Decimal(str(round(rng.uniform(0.5, 6), 2))),
                window_start=now,
                window_end=now + timedelta(days=rng.choice([1, 2, 3])),
                priority=rng.choices(["normal", "high", "urgent"], [90, 8, 2])[0],
                handling=rng.choices(["general", "fragile", "fresh_food", "hazardous"], [80, 10, 7, 3])[0],
                price_kes=Decimal(rng.randrange(20_000, 120_000)),
            )
            for i in range(orders)
        ],
        batch_size=1000,
    )
    Vehicle.objects.bulk_create(
        [
            Vehicle(
                reference=f"BENCH-{orders}-V{j:03d}",
                vehicle_type="10T" if j % 2 else "5T",
                capacity_weight_t=10 if j % 2 else 5,
                capacity_volume_m3=45 if j % 2 else 25,
                refrigerated=j % 10 == 0,
                hazmat_certified=j % 15 == 0,
                home_hub=hub,
            )
            for j in range(vehicles)
        ]
    )
    return hub


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--vehicles", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run this against PostgreSQL: set DATABASE_URL=postgres://...")
    try:
        with transaction.atomic():
            small = populate(200, 20, seed=1)
            measure(
                "snapshot (decision_create), 200 orders / 20 vehicles",
                lambda: services.decision_create(hub_id=small.pk, time_limit_seconds=args.seconds),
            )
            hub = populate(args.orders, args.vehicles)
            print(
                f"PostgreSQL {connection.pg_version // 10000}, {args.orders:,} pending orders, {args.vehicles} vehicles\n"
            )
            decision = measure(
                f"snapshot (decision_create), {args.orders:,} orders / {args.vehicles} vehicles",
                lambda: services.decision_create(hub_id=hub.pk, time_limit_seconds=args.seconds),
            )
            instance = measure(
                "build the solver instance from the snapshot",
                lambda: services.instance_from_snapshot(decision.state_snapshot),
            )
            started = time.perf_counter()
            plan = planning.plan(instance, time_limit=args.seconds, seed=1)
            solve_s = time.perf_counter() - started
            print(
                f"{'solve (limit ' + format(args.seconds, 'g') + ' s) + interpret + check':<58} {solve_s * 1000:9.1f} ms   "
                f"{len(plan.routes)} routes, {sum(len(r.stops) for r in plan.routes)} orders routed, "
                f"{len(plan.left_out)} left out, KES {plan.total_cost:,.0f}"
            )
            decision = measure(
                "solve job end to end (same limit) and store the proposal",
                lambda: services.decision_solve(decision_id=decision.pk),
            )
            assert decision.status == "proposed", decision.failure_reason
            measure(
                f"commit ({decision.orders_routed} orders on {len(decision.plan['routes'])} routes)",
                lambda: services.decision_commit(decision=decision),
            )
            assert Route.objects.filter(decision=decision).count() == len(decision.plan["routes"])
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
