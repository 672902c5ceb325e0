"""A standard benchmark planned through the API, then re-checked on the benchmark's own data.

Solomon's RC208 (100 customers, wide windows) becomes a hub, a fleet and orders created through the REST endpoints;
a decision is requested and solved as in production; then every stored arrival is checked against the instance's
own windows with exact Euclidean travel times (no rounding), as the literature checks a solution."""

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import time_machine

from logistics import planning
from tests.logistics.conftest import BASE

DATA = Path(__file__).parent / "data"
START = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)  # the hub is open all day
# One plane unit is one kilometre: coordinates become degrees around a point on the equator (the equator crosses
# Kenya), where a degree is the same length in both directions to within 3e-5. The road factor just above 1 makes
# every road distance the planner sees at least the plane distance, so a plan on time for the planner is on time on
# the benchmark's own (plane) distances too. 60 km/h: a kilometre takes a minute, as in the benchmark.
KM_PER_DEGREE = 2 * math.pi * 6371.0088 / 360
ORIGIN = (0.0, 36.0)
ROAD_FACTOR = 1.001


def read_solomon(path: Path) -> tuple[int, int, list[dict]]:
    rows = [line.split() for line in path.read_text().splitlines()]
    numeric = [row for row in rows if row and all(cell.replace(".", "").isdigit() for cell in row)]
    (vehicles, capacity), *customers = numeric
    keys = ("number", "x", "y", "demand", "ready", "due", "service")
    return int(vehicles), int(capacity), [dict(zip(keys, map(int, row), strict=True)) for row in customers]


def _lat_lon(customer: dict) -> tuple[float, float]:
    depot_x, depot_y = 40, 50
    return ORIGIN[0] + (customer["y"] - depot_y) / KM_PER_DEGREE, ORIGIN[1] + (customer["x"] - depot_x) / KM_PER_DEGREE


def _created(response) -> dict:
    assert response.status_code == 201, response.json()
    return response.json()


def _minutes(moment: str) -> float:
    return (datetime.fromisoformat(moment) - START) / timedelta(minutes=1)


@pytest.mark.slow
def test_rc208_planned_through_the_api_keeps_every_window_on_exact_times(dispatcher_client, solve_now):
    fleet, capacity, (depot, *customers) = read_solomon(DATA / "RC208.txt")
    assert (depot["x"], depot["y"]) == (40, 50)
    everyone = [depot, *customers]
    road = planning.road_km_matrix(
        np.array([_lat_lon(c) for c in everyone]), planning.PlanCosts(road_factor=ROAD_FACTOR)
    )
    plane = np.array([[math.dist((a["x"], a["y"]), (b["x"], b["y"])) for b in everyone] for a in everyone])
    assert (road >= plane).all(), "the mapping must never make a leg shorter than on the plane"
    client = dispatcher_client
    with time_machine.travel(START, tick=False):
        response = client.patch(
            f"{BASE}/cost-model/",
            {
                "average_speed_kmh": 60,
                "road_factor": ROAD_FACTOR,
                "default_service_minutes": 10,
                "fixed_cost_per_vehicle": "1000",
                "fuel_cost_per_km": "10",
                "driver_cost_per_hour": "0",
            },
        )
        assert response.status_code == 200, response.json()
        hub = _created(
            client.post(
                f"{BASE}/hubs/",
                {
                    "name": "RC208 depot",
                    "latitude": ORIGIN[0],
                    "longitude": ORIGIN[1],
                    "opening_time": "00:00",
                    "closing_time": "23:59",
                },
            )
        )
        owner = _created(client.post(f"{BASE}/customers/", {"reference": "SOLOMON", "name": "Solomon"}))
        for i in range(fleet):
            _created(
                client.post(
                    f"{BASE}/vehicles/",
                    {
                        "reference": f"RC {i:02d}",
                        "vehicle_type": "solomon",
                        "capacity_weight_t": str(capacity),
                        "capacity_volume_m3": "1",
                        "home_hub": hub["id"],
                    },
                )
            )
        by_id = {}
        for c in customers:
            latitude, longitude = _lat_lon(c)
            order = _created(
                client.post(
                    f"{BASE}/orders/",
                    {
                        "reference": f"RC208-{c['number']:03d}",
                        "customer": owner["id"],
                        "hub": hub["id"],
                        "destination_city": "RC208",
                        "destination_latitude": latitude,
                        "destination_longitude": longitude,
                        "weight_t": str(c["demand"]),
                        "volume_m3": "0.001",
                        "window_start": (START + timedelta(minutes=c["ready"])).isoformat(),
                        "window_end": (START + timedelta(minutes=c["due"])).isoformat(),
                        "service_minutes": c["service"],
                        "priority": "urgent",
                        "price_kes": "0",
                    },
                )
            )
            by_id[order["id"]] = c
        response = solve_now(
            client.post, f"{BASE}/decisions/", {"decision_type": "daily_route_planning", "time_limit_seconds": 10}
        )
        assert response.status_code == 202, response.json()
        decision = client.get(f"{BASE}/decisions/{response.json()['id']}/").json()

    assert decision["status"] == "proposed", decision["failure_reason"]
    assert decision["orders_routed"] == len(customers) and decision["left_out"] == []
    where = {c["number"]: (c["x"], c["y"]) for c in everyone}
    problems = []
    for route in decision["plan"]["routes"]:
        assert sum(by_id[s["order_id"]]["demand"] for s in route["stops"]) <= capacity
        clock, here = _minutes(route["departure"]), depot["number"]
        assert clock >= depot["ready"]
        for stop in route["stops"]:
            c = by_id[stop["order_id"]]
            # Exact: plane distance, no rounding anywhere; a kilometre is a minute.
            clock = max(clock + math.dist(where[here], where[c["number"]]), c["ready"])
            promised = _minutes(stop["estimated_arrival"])
            if promised < clock - 1e-6:
                problems.append(f"customer {c['number']} promised {clock - promised:.2f} min before it can be reached")
            if clock > c["due"] + 1e-9:
                problems.append(f"customer {c['number']} reached {clock - c['due']:.2f} min after its window closes")
            if promised > c["due"] + 1e-9:
                problems.append(
                    f"customer {c['number']} promised {promised - c['due']:.2f} min after its window closes"
                )
            clock, here = max(clock, promised) + c["service"], c["number"]
    assert not problems, problems
