"""The one module that talks to the vehicle-routing solver (PyVRP 0.14).

Everything else speaks in the plain, typed structures below: integer matrices and integer
attributes in, routes as client positions with their scheduled start times out. A solver upgrade
(PyVRP 1.0 changes its API) touches this file only.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from importlib.metadata import version

import numpy as np
import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

NAME = "pyvrp-" + version("pyvrp")
UNBOUNDED = int(np.iinfo(np.int64).max // 4)
MAX_PENALTY = 1e12


@dataclass(frozen=True)
class SolverClient:
    location: int  # index into the matrices; 0 is the depot
    demand: tuple[int, ...]
    service: int
    tw_early: int
    tw_late: int
    prize: int
    required: bool


@dataclass(frozen=True)
class SolverVehicleType:
    count: int
    capacity: tuple[int, ...]
    fixed_cost: int
    unit_distance_cost: int
    unit_duration_cost: int
    tw_early: int
    tw_late: int


@dataclass
class SolverProblem:
    distance: np.ndarray  # (n, n) int64, location 0 is the depot
    duration: np.ndarray
    clients: list[SolverClient]
    vehicle_types: list[SolverVehicleType]
    depot_tw: tuple[int, int] = (0, UNBOUNDED)


@dataclass(frozen=True)
class SolverRoute:
    vehicle_type: int
    clients: list[int]  # positions in SolverProblem.clients, in visiting order
    starts: list[int]  # service start time at each client
    start_time: int  # leaving the depot
    end_time: int  # back at the depot
    distance: int
    duration: int


@dataclass
class SolverResult:
    routes: list[SolverRoute]
    unplanned: list[int]
    feasible: bool
    objective: int | None
    iterations: int
    runtime_s: float
    stats: dict = field(default_factory=dict)


def solve(
    problem: SolverProblem, *, time_limit: float, max_iterations: int | None = None, seed: int = 1
) -> SolverResult:
    """Best plan found within ``time_limit`` seconds (and ``max_iterations``, when given: with a
    fixed seed the same problem then gives the same plan, whatever the machine's speed)."""
    started = time.perf_counter()
    depot_early, depot_late = problem.depot_tw
    # Vehicles leave from and return to the depot, location 0.
    locations = [pyvrp.Location(x=0, y=0) for _ in range(len(problem.distance))]
    depots = [pyvrp.Depot(location=0, tw_early=depot_early, tw_late=depot_late)]
    clients = [
        pyvrp.Client(
            location=c.location,
            delivery=list(c.demand),
            service_duration=c.service,
            tw_early=c.tw_early,
            tw_late=c.tw_late,
            prize=c.prize,
            required=c.required,
        )
        for c in problem.clients
    ]
    vehicle_types = [
        pyvrp.VehicleType(
            num_available=v.count,
            capacity=list(v.capacity),
            fixed_cost=v.fixed_cost,
            unit_distance_cost=v.unit_distance_cost,
            unit_duration_cost=v.unit_duration_cost,
            tw_early=v.tw_early,
            tw_late=v.tw_late,
        )
        for v in problem.vehicle_types
    ]
    data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=[np.asarray(problem.distance, dtype=np.int64)],
        duration_matrices=[np.asarray(problem.duration, dtype=np.int64)],
    )
    stop = MaxRuntime(max(time_limit, 0.01))
    if max_iterations is not None:
        stop = MultipleCriteria([MaxIterations(max_iterations), stop])
    # The default penalty cap (100,000 per unit of time warp or excess load) is below what leaving an
    # urgent order out costs on real money scales, so the search would trade feasibility for prizes.
    params = pyvrp.SolveParams(penalty=pyvrp.PenaltyParams(max_penalty=MAX_PENALTY))
    with warnings.catch_warnings():
        # Whether a feasible plan was found is reported in the result; the warning adds nothing.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        result = pyvrp.solve(data, stop=stop, seed=seed, collect_stats=False, display=False, params=params)
    best = result.best
    routes = []
    for route in best.routes():
        visits = [activity for activity in route.schedule() if activity.is_client()]
        routes.append(
            SolverRoute(
                vehicle_type=route.vehicle_type(),
                clients=[activity.idx for activity in visits],
                starts=[activity.start_time for activity in visits],
                start_time=route.start_time(),
                end_time=route.end_time(),
                distance=route.distance(),
                duration=route.duration(),
            )
        )
    unplanned = sorted(activity.idx for activity in best.unplanned() if activity.is_client())
    feasible = best.is_feasible()
    return SolverResult(
        routes=routes,
        unplanned=unplanned,
        feasible=feasible,
        objective=int(result.cost()) if feasible else None,
        iterations=result.num_iterations,
        runtime_s=time.perf_counter() - started,
        stats={
            "solver": NAME,
            "iterations": result.num_iterations,
            "search_seconds": round(result.runtime, 3),
            "feasible": feasible,
            "objective": int(result.cost()) if feasible else None,
            "seed": seed,
            "max_iterations": max_iterations,
            "time_limit_seconds": time_limit,
        },
    )
