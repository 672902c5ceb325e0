"""Writes of dispatch. The API, the admin, ``manage.py plan_routes`` and the background jobs all
come through these functions, so a rule (what a commit re-checks, how calibration moves the cost
model) holds whichever way a change arrives."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Case, UUIDField, Value, When
from django.utils import timezone

from core.context import get_current_user
from core.errors import Conflict, Invalid, NotFound
from core.history import update_with_history
from core.services import model_create, model_update, on_delete
from events import payloads
from events.services import publish

from . import planning, translation
from .choices import (
    DecisionStatus,
    DecisionType,
    DeliveryResult,
    OrderStatus,
    RouteStatus,
    VehicleStatus,
)
from .models import (
    CostModel,
    Customer,
    Decision,
    Hub,
    OperationalOutcome,
    Order,
    Route,
    RouteStop,
    Vehicle,
    VehicleTypeRate,
)

logger = logging.getLogger(__name__)
MONEY = Decimal("0.01")


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(MONEY)


# --- Reference data ---------------------------------------------------------------------------


@transaction.atomic
def hub_create(**fields) -> Hub:
    return model_create(model=Hub, data=fields)


@transaction.atomic
def hub_update(*, hub: Hub, **fields) -> Hub:
    return model_update(instance=hub, data=fields)[0]


@transaction.atomic
def customer_create(**fields) -> Customer:
    return model_create(model=Customer, data=fields)


@transaction.atomic
def customer_update(*, customer: Customer, **fields) -> Customer:
    return model_update(instance=customer, data=fields)[0]


@on_delete(Customer)
def customer_delete(*, instance: Customer) -> None:
    open_orders = instance.orders.filter(status__in=(OrderStatus.ASSIGNED, OrderStatus.IN_TRANSIT)).count()
    if open_orders:
        raise Conflict(
            f"This customer has {open_orders} order(s) on routes; deliver or cancel them first.",
            code="customer_has_open_orders",
        )
    instance.delete()


@transaction.atomic
def order_create(**fields) -> Order:
    fields.setdefault("status", OrderStatus.PENDING)
    if fields["status"] != OrderStatus.PENDING:
        raise Invalid({"status": ["New orders are pending; planning assigns them to routes."]})
    return model_create(model=Order, data=fields)


EDITABLE_ORDER_STATUSES = (OrderStatus.PENDING,)


@transaction.atomic
def order_update(*, order: Order, **fields) -> Order:
    if order.status not in EDITABLE_ORDER_STATUSES:
        raise Conflict(
            f"Order {order.reference} is {order.status}; only pending orders can be changed.", code="order_not_pending"
        )
    status = fields.get("status", order.status)
    if status not in (OrderStatus.PENDING, OrderStatus.CANCELLED):
        raise Invalid({"status": ["Only cancelling is done by hand; routes move orders on."]})
    return model_update(instance=order, data=fields)[0]


@on_delete(Order)
def order_delete(*, instance: Order) -> None:
    if instance.status in (OrderStatus.ASSIGNED, OrderStatus.IN_TRANSIT):
        raise Conflict(f"Order {instance.reference} is {instance.status}; it cannot be deleted.", code="order_on_route")
    instance.delete()


@transaction.atomic
def vehicle_create(**fields) -> Vehicle:
    return model_create(model=Vehicle, data=fields)


@transaction.atomic
def vehicle_update(*, vehicle: Vehicle, **fields) -> Vehicle:
    busy = (VehicleStatus.LOADING, VehicleStatus.IN_TRANSIT)
    changing = "status" in fields and fields["status"] != vehicle.status
    if changing and (vehicle.status in busy or fields["status"] in busy):
        raise Conflict(
            f"Vehicle {vehicle.reference} is {vehicle.status}; routes move it between loading, "
            "in transit and available.",
            code="vehicle_on_route",
        )
    return model_update(instance=vehicle, data=fields)[0]


@on_delete(Vehicle)
def vehicle_delete(*, instance: Vehicle) -> None:
    if instance.status in (VehicleStatus.LOADING, VehicleStatus.IN_TRANSIT):
        raise Conflict(
            f"Vehicle {instance.reference} is {instance.status}; it cannot be deleted.", code="vehicle_on_route"
        )
    instance.delete()


# --- Cost model -------------------------------------------------------------------------------


def cost_model_current() -> CostModel:
    """The cost model in force (created with defaults the first time)."""
    current = CostModel.objects.order_by("created_at").first()
    if current is None:
        current = CostModel.objects.create()
    return current


@transaction.atomic
def cost_model_create(**fields) -> CostModel:
    return model_create(model=CostModel, data=fields)


@transaction.atomic
def cost_model_update(*, cost_model: CostModel, rates: list[dict] | None = None, **fields) -> CostModel:
    cost_model, _ = model_update(instance=cost_model, data=fields)
    for rate in rates or ():
        rate_set(cost_model=cost_model, **rate)
    return cost_model


@transaction.atomic
def rate_set(*, cost_model: CostModel, vehicle_type: str, fuel_cost_per_km, driver_cost_per_hour) -> VehicleTypeRate:
    rate = VehicleTypeRate.objects.filter(cost_model=cost_model, vehicle_type=vehicle_type).first()
    costs = {"fuel_cost_per_km": fuel_cost_per_km, "driver_cost_per_hour": driver_cost_per_hour}
    if rate is None:
        return model_create(
            model=VehicleTypeRate, data={"cost_model": cost_model, "vehicle_type": vehicle_type, **costs}
        )
    return model_update(instance=rate, data=costs)[0]


def _rates(cost_model: CostModel) -> dict[str, tuple[float, float]]:
    return {r.vehicle_type: (float(r.fuel_cost_per_km), float(r.driver_cost_per_hour)) for r in cost_model.rates.all()}


# --- Decisions --------------------------------------------------------------------------------


def _unknown(ids, found) -> list[str]:
    return sorted(str(i) for i in set(map(str, ids)) - {str(pk) for pk in found})


def _pick_hub(hub_id, orders_qs) -> Hub:
    if hub_id is not None:
        hub = Hub.objects.filter(pk=hub_id).first()
        if hub is None:
            raise Invalid({"hub_id": [f"Unknown hub {hub_id}."]})
        return hub
    hub_ids = list(orders_qs.order_by().values_list("hub_id", flat=True).distinct()[:2])
    if len(hub_ids) > 1:
        raise Invalid({"hub_id": ["The orders leave from more than one hub; name the hub to plan."]})
    if hub_ids:
        return Hub.objects.get(pk=hub_ids[0])
    hubs = list(Hub.objects.all()[:2])
    if len(hubs) != 1:
        raise Invalid({"hub_id": ["Name the hub to plan."]})
    return hubs[0]


@transaction.atomic
def decision_create(
    *,
    decision_type: str = DecisionType.DAILY_ROUTE_PLANNING,
    order_ids: list | None = None,
    vehicle_ids: list | None = None,
    hub_id=None,
    time_limit_seconds: float | None = None,
    now: datetime | None = None,
) -> Decision:
    """Record what planning sees now and queue the solve. Nothing about orders or vehicles changes."""
    if decision_type not in DecisionType.values:
        raise Invalid({"decision_type": [f"Choose one of: {', '.join(DecisionType.values)}."]})
    limit = settings.LOGISTICS_DEFAULT_TIME_LIMIT_SECONDS if time_limit_seconds is None else float(time_limit_seconds)
    if not 0 < limit <= settings.LOGISTICS_MAX_TIME_LIMIT_SECONDS:
        raise Invalid(
            {
                "time_limit_seconds": [
                    f"Give a number of seconds above 0 and at most {settings.LOGISTICS_MAX_TIME_LIMIT_SECONDS:g}."
                ]
            }
        )
    start = (now or timezone.now()).replace(second=0, microsecond=0)
    cost_model = cost_model_current()

    replaced: list[Route] = []
    if order_ids is not None:
        orders = list(Order.objects.filter(pk__in=order_ids).order_by("pk"))
        unknown = _unknown(order_ids, [o.pk for o in orders])
        if unknown:
            raise Invalid({"order_ids": [f"Unknown order(s): {', '.join(unknown)}."]}, code="unknown_order")
        hub = _pick_hub(hub_id, Order.objects.filter(pk__in=order_ids))
    else:
        pending = Order.objects.filter(status=OrderStatus.PENDING)
        hub = _pick_hub(hub_id, pending)
        orders = list(pending.filter(hub=hub).order_by("pk"))
    if decision_type == DecisionType.REPLAN:
        replaced = list(
            Route.objects.filter(status=RouteStatus.PLANNED, vehicle__home_hub=hub).select_related("vehicle")
        )
        chosen = {o.pk for o in orders}
        orders += [
            o for o in Order.objects.filter(route__in=replaced, status=OrderStatus.ASSIGNED) if o.pk not in chosen
        ]
    not_pending = [
        o.reference
        for o in orders
        if o.status != OrderStatus.PENDING
        and not (
            decision_type == DecisionType.REPLAN
            and o.status == OrderStatus.ASSIGNED
            and o.route_id in {r.pk for r in replaced}
        )
    ]
    if not_pending:
        raise Invalid({"order_ids": [f"Not pending: {', '.join(sorted(not_pending))}."]}, code="order_not_pending")
    wrong_hub = [o.reference for o in orders if o.hub_id != hub.pk]
    if wrong_hub:
        raise Invalid({"order_ids": [f"Not leaving from {hub.name}: {', '.join(sorted(wrong_hub))}."]})
    if not orders:
        raise Invalid({"order_ids": [f"There are no pending orders at {hub.name} to plan."]}, code="nothing_to_plan")

    if vehicle_ids is not None:
        vehicles = list(Vehicle.objects.filter(pk__in=vehicle_ids).order_by("pk"))
        unknown = _unknown(vehicle_ids, [v.pk for v in vehicles])
        if unknown:
            raise Invalid({"vehicle_ids": [f"Unknown vehicle(s): {', '.join(unknown)}."]}, code="unknown_vehicle")
    else:
        vehicles = list(Vehicle.objects.filter(status=VehicleStatus.AVAILABLE, home_hub=hub).order_by("pk"))
    if replaced:
        chosen = {v.pk for v in vehicles}
        vehicles += [r.vehicle for r in replaced if r.vehicle.pk not in chosen and vehicle_ids is None]
    freed = {r.vehicle_id for r in replaced}
    busy = [v.reference for v in vehicles if v.status != VehicleStatus.AVAILABLE and v.pk not in freed]
    if busy:
        raise Invalid({"vehicle_ids": [f"Not available: {', '.join(sorted(busy))}."]}, code="vehicle_not_available")
    if not vehicles:
        raise Invalid({"vehicle_ids": [f"There are no available vehicles at {hub.name}."]}, code="no_vehicles")

    rates = _rates(cost_model)
    snapshot = {
        "planning_start": start.isoformat(),
        "hub": translation.hub_snapshot(hub, start),
        "cost_model": translation.cost_model_snapshot(cost_model, rates),
        "orders": [translation.order_snapshot(o, start, cost_model.default_service_minutes) for o in orders],
        "vehicles": [translation.vehicle_snapshot(v, start, rates, cost_model) for v in vehicles],
        "replaced_routes": [
            {"id": str(r.pk), "reference": r.reference, "vehicle_id": str(r.vehicle_id)} for r in replaced
        ],
    }
    decision = Decision.objects.create(
        decision_type=decision_type,
        status=DecisionStatus.SOLVING,
        policy=f"{planning.solver.NAME}; separate solves per compatibility class",
        time_limit_seconds=limit,
        planning_start=start,
        state_snapshot=snapshot,
    )
    decision_id = str(decision.pk)
    transaction.on_commit(lambda: queue_solve(decision_id))
    return decision


def queue_solve(decision_id: str) -> bool:
    """Send a decision's solve to the workers. The decision row is the job's record: accepting the
    request never depends on the broker. If the broker does not answer, the decision stays
    ``solving`` unclaimed and the sweeper (``decisions_sweep``) sends it again once it does."""
    from kombu.exceptions import OperationalError

    from .tasks import solve_decision

    try:
        solve_decision.delay(decision_id)
    except (OperationalError, ConnectionError, OSError) as exc:
        logger.warning(
            "decision %s: the job broker did not answer (%s); the sweeper sends the solve again once it does",
            decision_id,
            type(exc).__name__,
        )
        return False
    return True


# The pure translation (snapshot → planner instance, plan → what the decision stores) lives in
# ``translation``; these names stay importable from here for the benchmarks and commands.
instance_from_snapshot = translation.instance_from_snapshot
plan_to_json = translation.plan_to_json


# --- Solving, and jobs whose worker stopped --------------------------------------------------
#
# A solve job claims its decision before solving: one conditional UPDATE (status still ``solving``,
# ``version`` as read) records the claim in ``solver_stats["claim"]`` (attempt, when, which worker).
# Of two runs for one decision (a message the broker redelivered, a duplicate) exactly one claims
# it; the other returns without solving. The plan is stored only by the run holding the claim
# (status and version unchanged since the claim), so a decision is solved at most once per claim
# and keeps one plan. A claim is live for the solve's time budget plus DECISION_STUCK_GRACE_SECONDS;
# after that its worker is taken to have stopped: ``decisions_fail_stuck`` (the periodic sweeper)
# fails the decision with the reason, and a redelivered message may claim it again first.


def _solve_budget_seconds(decision: Decision) -> float:
    """The longest the solver may run for this decision: its time limit, plus half the limit again
    when urgent orders are solved a second time (``planning._solve_class``)."""
    return decision.time_limit_seconds * 1.5


def _claim_of(decision: Decision) -> dict | None:
    stats = decision.solver_stats
    return stats.get("claim") if isinstance(stats, dict) else None


def decision_stuck_after(decision: Decision) -> datetime:
    """When a decision still ``solving`` counts as stuck: its claim plus the solve's time budget plus
    DECISION_STUCK_GRACE_SECONDS (a worker started it and stopped); unclaimed, its request plus
    DECISION_QUEUE_TIMEOUT_SECONDS (no worker took the job)."""
    claim = _claim_of(decision)
    if claim is None:
        return decision.created_at + timedelta(seconds=settings.DECISION_QUEUE_TIMEOUT_SECONDS)
    return datetime.fromisoformat(claim["at"]) + timedelta(
        seconds=_solve_budget_seconds(decision) + settings.DECISION_STUCK_GRACE_SECONDS
    )


def decision_claim(*, decision_id, worker: str = "", now: datetime | None = None) -> Decision | None:
    """Take a ``solving`` decision for this run, atomically; ``None`` when there is nothing to do: it
    is no longer solving, or another run holds a claim that has not expired, or another run claimed
    it at the same moment. An expired claim (its worker stopped) is taken over as the next attempt."""
    decision = Decision.objects.filter(pk=decision_id).first()
    if decision is None:
        raise NotFound(f"No decision {decision_id}.")
    now = now or timezone.now()
    claim = _claim_of(decision)
    if decision.status != DecisionStatus.SOLVING or (claim is not None and now < decision_stuck_after(decision)):
        return None
    attempt = (claim or {}).get("attempt", 0) + 1
    with transaction.atomic():
        taken = update_with_history(
            Decision.objects.filter(pk=decision.pk, status=DecisionStatus.SOLVING, version=decision.version),
            solver_stats={"claim": {"attempt": attempt, "at": now.isoformat(), "worker": worker}},
            reason=f"solve attempt {attempt} started",
        )
    if not taken:
        return None
    logger.info("decision %s: solve attempt %s claimed by %s", decision.pk, attempt, worker or "this process")
    decision.refresh_from_db()
    return decision


def decision_solve(*, decision_id, worker: str = "") -> Decision:
    """The background job: claim the decision, solve what it saw and store the proposal (or why it
    failed). A run that does not get the claim changes nothing and returns the decision as it is."""
    decision = decision_claim(decision_id=decision_id, worker=worker)
    if decision is None:
        return Decision.objects.get(pk=decision_id)
    claimed_version = decision.version
    started = time.perf_counter()
    fields: dict
    try:
        instance = translation.instance_from_snapshot(decision.state_snapshot)
        # Every plan ``planning.plan`` returns has passed ``planning.check_plan`` on unrounded times.
        plan = planning.plan(
            instance,
            time_limit=decision.time_limit_seconds,
            max_iterations=settings.LOGISTICS_SOLVER_MAX_ITERATIONS,
            seed=settings.LOGISTICS_SOLVER_SEED,
        )
    except planning.InfeasiblePlan as exc:
        # A bug, not a hard day: the plan made breaks a rule, so it is not stored.
        logger.error("plan for decision %s failed its feasibility check: %s", decision_id, exc)
        fields = {
            "status": DecisionStatus.FAILED,
            "failure_reason": f"The plan failed its feasibility check and was not stored: {exc}"[:2000],
        }
    except planning.PlanningError as exc:
        fields = {"status": DecisionStatus.FAILED, "failure_reason": str(exc)[:2000]}
    except Exception as exc:  # recorded on the decision: a user sees why, the log has the trace
        logger.exception("planning failed for decision %s", decision_id)
        fields = {"status": DecisionStatus.FAILED, "failure_reason": f"{type(exc).__name__}: {exc}"[:2000]}
    else:
        snapshot_orders = decision.state_snapshot["orders"]
        planned = translation.plan_to_json(plan, decision.planning_start)
        fields = {
            "status": DecisionStatus.PROPOSED,
            "plan": planned,
            "left_out": translation.left_out_json(plan, snapshot_orders),
            "total_cost_kes": _money(plan.total_cost),
            "total_distance_km": round(plan.total_distance_km, 3),
            "orders_routed": len(planned["orders_routed"]),
            "confidence": round(len(planned["orders_routed"]) / max(1, len(snapshot_orders)), 4),
            "solver_stats": {**plan.stats, "claim": _claim_of(decision)},
        }
    fields["computation_ms"] = round((time.perf_counter() - started) * 1000)
    with transaction.atomic():
        # Only the run holding the claim stores its result: a decision failed meanwhile (its claim
        # expired and the sweeper ran) or claimed again by another run keeps what that run wrote.
        stored = update_with_history(
            Decision.objects.filter(pk=decision.pk, status=DecisionStatus.SOLVING, version=claimed_version), **fields
        )
        decision.refresh_from_db()
        if stored:
            _publish_solved(decision)
    if not stored:
        logger.warning("decision %s changed while this run solved it; its result was dropped", decision_id)
    return decision


def _publish_solved(decision: Decision) -> None:
    """decision.proposed or decision.failed, in the transaction that stored the solve's result."""
    if decision.status == DecisionStatus.PROPOSED:
        publish("decision.proposed", obj=decision, payload=payloads.decision_proposed(decision))
    elif decision.status == DecisionStatus.FAILED:
        publish("decision.failed", obj=decision, payload=payloads.decision_failed(decision))


def decisions_fail_stuck(*, now: datetime | None = None) -> list[Decision]:
    """The sweeper (``logistics.fail_stuck_decisions``, every minute on beat): fail each decision still
    ``solving`` past ``decision_stuck_after``, with the reason; send again the solve of each decision
    no worker has claimed DECISION_REQUEUE_SECONDS after its request (its message was never queued,
    the broker being down, or was lost with the broker's data). A solve sent twice is harmless: the
    run that claims the decision solves it, the other changes nothing. Each write is conditional on
    the decision being unchanged since it was read, so a run that stores its plan (or claims it
    again) at the same moment wins and the decision is left alone."""
    now = now or timezone.now()
    failed = []
    requeue_after = timedelta(seconds=settings.DECISION_REQUEUE_SECONDS)
    for decision in Decision.objects.filter(status=DecisionStatus.SOLVING).order_by("created_at"):
        deadline = decision_stuck_after(decision)
        if now < deadline:
            if _claim_of(decision) is None and now >= decision.created_at + requeue_after:
                queue_solve(str(decision.pk))
            continue
        claim = _claim_of(decision)
        if claim is None:
            reason = (
                f"No worker started this job within {settings.DECISION_QUEUE_TIMEOUT_SECONDS:g} s of the request "
                "(are the workers running?); request a new decision."
            )
        else:
            budget = _solve_budget_seconds(decision) + settings.DECISION_STUCK_GRACE_SECONDS
            reason = (
                f"The worker running this job stopped: attempt {claim['attempt']} started at {claim['at']} on "
                f"{claim.get('worker') or 'a worker'} and gave no result within {budget:g} s; request a new decision."
            )
        with transaction.atomic():
            changed = update_with_history(
                Decision.objects.filter(pk=decision.pk, status=DecisionStatus.SOLVING, version=decision.version),
                status=DecisionStatus.FAILED,
                failure_reason=reason,
                reason="stuck in solving",
            )
            if changed:
                decision.refresh_from_db()
                publish("decision.failed", obj=decision, payload=payloads.decision_failed(decision))
        if changed:
            logger.warning("decision %s failed: %s", decision.pk, reason)
            failed.append(decision)
    return failed


def _route_reference(decision: Decision, n: int) -> str:
    return f"R-{decision.planning_start:%Y%m%d}-{str(decision.pk)[:8]}-{n:02d}"


@transaction.atomic
def decision_commit(*, decision: Decision) -> Decision:
    """Apply a proposed decision: routes and stops created, orders assigned, vehicles loading —
    all or nothing. Refused (409, naming what changed) when an order is no longer pending or a
    vehicle no longer available, or when the decision is not (or no longer) a proposal."""
    decision = Decision.objects.select_for_update().get(pk=decision.pk)
    if decision.status == DecisionStatus.COMMITTED:
        raise Conflict("This decision is already committed.", code="already_committed")
    if decision.status != DecisionStatus.PROPOSED:
        raise Conflict(
            f"This decision is {decision.status}; only a proposed decision can be committed.", code="not_proposed"
        )
    planned = decision.plan.get("routes", [])
    if not planned:
        raise Conflict("The proposal has no routes to apply.", code="empty_plan")
    snapshot = decision.state_snapshot
    seen_orders = {o["id"]: o for o in snapshot["orders"]}
    seen_vehicles = {v["id"]: v for v in snapshot["vehicles"]}
    changed: list[str] = []

    released_orders: set[str] = set()
    released_vehicles: set[str] = set()
    replaced = [r["id"] for r in snapshot.get("replaced_routes", [])]
    if replaced:
        still_planned = list(
            Route.objects.select_for_update().filter(pk__in=replaced, status=RouteStatus.PLANNED).order_by("pk")
        )
        gone = sorted({r["reference"] for r in snapshot["replaced_routes"]} - {r.reference for r in still_planned})
        if gone:
            raise Conflict(
                f"Changed since planning: route(s) {', '.join(gone)} no longer planned.", code="state_changed"
            )
        released_orders = {str(pk) for pk in Order.objects.filter(route__in=replaced).values_list("pk", flat=True)}
        released_vehicles = {str(r.vehicle_id) for r in still_planned}
        update_with_history(Route.objects.filter(pk__in=replaced), status=RouteStatus.CANCELLED)
        update_with_history(
            Order.objects.filter(pk__in=released_orders, status=OrderStatus.ASSIGNED),
            status=OrderStatus.PENDING,
            route=None,
        )
        update_with_history(
            Vehicle.objects.filter(pk__in=released_vehicles, status=VehicleStatus.LOADING),
            status=VehicleStatus.AVAILABLE,
        )

    order_ids = [s["order_id"] for r in planned for s in r["stops"]]
    vehicle_ids = [r["vehicle_id"] for r in planned]
    # Lock in primary-key order so overlapping commits queue instead of deadlocking.
    orders = {str(o.pk): o for o in Order.all_objects.select_for_update().filter(pk__in=order_ids).order_by("pk")}
    vehicles = {str(v.pk): v for v in Vehicle.all_objects.select_for_update().filter(pk__in=vehicle_ids).order_by("pk")}
    for oid in order_ids:
        order, seen = orders.get(oid), seen_orders[oid]
        expected = seen["version"] + (1 if oid in released_orders else 0)
        if order is None or order.deleted_at is not None:
            changed.append(f"order {seen['reference']} was deleted")
        elif order.status != OrderStatus.PENDING:
            changed.append(f"order {order.reference} is now {order.status}")
        elif order.version != expected:
            changed.append(f"order {order.reference} was edited")
    for vid in vehicle_ids:
        vehicle, seen = vehicles.get(vid), seen_vehicles[vid]
        expected = seen["version"] + (1 if vid in released_vehicles else 0)
        if vehicle is None or vehicle.deleted_at is not None:
            changed.append(f"vehicle {seen['reference']} was deleted")
        elif vehicle.status != VehicleStatus.AVAILABLE:
            changed.append(f"vehicle {vehicle.reference} is now {vehicle.status}")
        elif vehicle.version != expected:
            changed.append(f"vehicle {vehicle.reference} was edited")
    if changed:
        raise Conflict(f"Changed since planning: {'; '.join(changed)}.", code="state_changed")

    routes, stops = [], []
    for n, planned_route in enumerate(planned, start=1):
        route = Route(
            reference=_route_reference(decision, n),
            decision=decision,
            vehicle_id=planned_route["vehicle_id"],
            status=RouteStatus.PLANNED,
            destination_cities=list(dict.fromkeys(s["city"] for s in planned_route["stops"])),
            planned_start=datetime.fromisoformat(planned_route["departure"]),
            distance_km=planned_route["distance_km"],
            duration_min=planned_route["duration_min"],
            cost_kes=_money(planned_route["cost_kes"]),
            created_by=get_current_user(),
            updated_by=get_current_user(),
        )
        routes.append(route)
        stops.extend(_stop(route, s) for s in planned_route["stops"])
    Route.objects.bulk_create(routes)
    RouteStop.objects.bulk_create(stops)
    now = timezone.now()
    # One UPDATE for every order, whatever the number of routes.
    route_of = Case(
        *(
            When(pk=s["order_id"], then=Value(route.pk))
            for route, pr in zip(routes, planned, strict=True)
            for s in pr["stops"]
        ),
        output_field=UUIDField(),
    )
    assigned = update_with_history(
        Order.objects.filter(pk__in=order_ids, status=OrderStatus.PENDING),
        status=OrderStatus.ASSIGNED,
        route_id=route_of,
    )
    if assigned != len(order_ids):  # only reachable if something bypassed the locks above
        raise Conflict("Changed since planning: some orders are no longer pending.", code="state_changed")
    loading = update_with_history(
        Vehicle.objects.filter(pk__in=vehicle_ids, status=VehicleStatus.AVAILABLE), status=VehicleStatus.LOADING
    )
    if loading != len(vehicle_ids):
        raise Conflict("Changed since planning: some vehicles are no longer available.", code="state_changed")
    Route.history.bulk_history_create(routes, default_user=get_current_user())
    model_update(instance=decision, data={"status": DecisionStatus.COMMITTED, "committed_at": now})
    publish("decision.committed", obj=decision, payload=payloads.decision_committed(decision, routes=routes))
    return decision


def _stop(route: Route, s: dict) -> RouteStop:
    return RouteStop(
        route=route,
        sequence=s["sequence"],
        order_id=s["order_id"],
        city=s["city"],
        latitude=s["latitude"],
        longitude=s["longitude"],
        leg_distance_km=s["leg_km"],
        estimated_arrival=datetime.fromisoformat(s["estimated_arrival"]),
        created_by=get_current_user(),
        updated_by=get_current_user(),
    )


# --- Running routes ---------------------------------------------------------------------------


def _locked_route(route: Route) -> Route:
    return Route.objects.select_for_update().select_related("vehicle", "decision").get(pk=route.pk)


@transaction.atomic
def route_start(*, route: Route) -> Route:
    route = _locked_route(route)
    if route.status != RouteStatus.PLANNED:
        raise Conflict(
            f"Route {route.reference} is {route.status}; only a planned route can start.", code="route_not_planned"
        )
    model_update(instance=route, data={"status": RouteStatus.IN_PROGRESS, "started_at": timezone.now()})
    ids = list(route.orders.filter(status=OrderStatus.ASSIGNED).values_list("pk", flat=True))
    in_transit = update_with_history(Order.objects.filter(pk__in=ids), status=OrderStatus.IN_TRANSIT)
    update_with_history(Vehicle.all_objects.filter(pk=route.vehicle_id), status=VehicleStatus.IN_TRANSIT)
    publish("route.started", obj=route, payload=payloads.route_started(route, orders_in_transit=in_transit))
    return route


def _error_pct(estimate: float, actual: float) -> float:
    return round((estimate - actual) / actual * 100, 4) if actual else 0.0


@transaction.atomic
def route_complete(
    *,
    route: Route,
    actual_distance_km: float,
    actual_duration_min: float,
    actual_cost_kes,
    revenue_kes,
    results: dict[str, str],
) -> OperationalOutcome:
    """Record what happened: the outcome with the server's prediction errors, orders delivered or
    failed, the vehicle free again, and the cost model calibrated toward the actuals."""
    route = _locked_route(route)
    if route.status != RouteStatus.IN_PROGRESS:
        raise Conflict(
            f"Route {route.reference} is {route.status}; only a route in progress can complete.",
            code="route_not_in_progress",
        )
    on_route = {str(pk): ref for pk, ref in route.orders.values_list("pk", "reference")}
    by_ref = {ref: pk for pk, ref in on_route.items()}
    normalised: dict[str, str] = {}
    problems = []
    for key, result in results.items():
        oid = key if key in on_route else by_ref.get(key)
        if oid is None:
            problems.append(f"{key} is not on this route")
        elif result not in DeliveryResult.values:
            problems.append(f"{key}: choose one of {', '.join(DeliveryResult.values)}")
        else:
            normalised[oid] = result
    missing = sorted(on_route[oid] for oid in set(on_route) - set(normalised))
    if missing:
        problems.append(f"missing a result for {', '.join(missing)}")
    if problems:
        raise Invalid({"results": problems})
    if actual_distance_km <= 0 or actual_duration_min <= 0:
        raise Invalid(
            {"actual_distance_km": ["Must be above 0."]}
            if actual_distance_km <= 0
            else {"actual_duration_min": ["Must be above 0."]}
        )

    now = timezone.now()
    actual_cost = _money(actual_cost_kes)
    revenue = _money(revenue_kes)
    counts = {value: sum(1 for r in normalised.values() if r == value) for value in DeliveryResult.values}
    cost_model = CostModel.objects.select_for_update().get(pk=cost_model_current().pk)
    calibration = calibrate(
        cost_model=cost_model,
        route=route,
        actual_distance_km=actual_distance_km,
        actual_duration_min=actual_duration_min,
        actual_cost_kes=float(actual_cost),
    )
    outcome = OperationalOutcome.objects.create(
        route=route,
        decision=route.decision,
        estimated_distance_km=route.distance_km,
        estimated_duration_min=route.duration_min,
        estimated_cost_kes=route.cost_kes,
        actual_distance_km=actual_distance_km,
        actual_duration_min=actual_duration_min,
        actual_cost_kes=actual_cost,
        revenue_kes=revenue,
        net_profit_kes=revenue - actual_cost,
        distance_error_pct=_error_pct(route.distance_km, actual_distance_km),
        duration_error_pct=_error_pct(route.duration_min, actual_duration_min),
        cost_error_pct=_error_pct(float(route.cost_kes), float(actual_cost)),
        on_time_count=counts[DeliveryResult.ON_TIME],
        late_count=counts[DeliveryResult.LATE],
        failed_count=counts[DeliveryResult.FAILED],
        results={on_route[oid]: result for oid, result in sorted(normalised.items(), key=lambda i: on_route[i[0]])},
        calibration=calibration,
    )
    model_update(instance=route, data={"status": RouteStatus.COMPLETED, "completed_at": now})
    delivered = [oid for oid, r in normalised.items() if r != DeliveryResult.FAILED]
    failed = [oid for oid, r in normalised.items() if r == DeliveryResult.FAILED]
    update_with_history(Order.objects.filter(pk__in=delivered), status=OrderStatus.DELIVERED)
    update_with_history(Order.objects.filter(pk__in=failed), status=OrderStatus.FAILED)
    update_with_history(Vehicle.all_objects.filter(pk=route.vehicle_id), status=VehicleStatus.AVAILABLE)
    publish("route.completed", obj=route, payload=payloads.route_completed(route, outcome=outcome))
    return outcome


def _ema(current: float, observed: float, weight: float) -> float:
    return current + weight * (observed - current)


def calibrate(
    *,
    cost_model: CostModel,
    route: Route,
    actual_distance_km: float,
    actual_duration_min: float,
    actual_cost_kes: float,
) -> dict:
    """Move the cost model toward what this route really took: exponential moving averages of the
    road factor (actual / estimated distance), the average speed (over the time spent driving) and
    the vehicle type's cost rates (actual cost / cost the current rates give for the actual run)."""
    weight = cost_model.calibration_weight
    rate = VehicleTypeRate.objects.filter(cost_model=cost_model, vehicle_type=route.vehicle.vehicle_type).first()
    fuel = float(rate.fuel_cost_per_km if rate else cost_model.fuel_cost_per_km)
    driver = float(rate.driver_cost_per_hour if rate else cost_model.driver_cost_per_hour)
    before = {
        "version": cost_model.version,
        "road_factor": cost_model.road_factor,
        "average_speed_kmh": cost_model.average_speed_kmh,
        "vehicle_type": route.vehicle.vehicle_type,
        "fuel_cost_per_km": fuel,
        "driver_cost_per_hour": driver,
    }
    if weight <= 0:
        return {"before": before, "after": before, "applied": False}
    road_factor = min(
        5.0,
        max(1.0, _ema(cost_model.road_factor, cost_model.road_factor * actual_distance_km / route.distance_km, weight)),
    )
    # Time not spent driving (service, waiting) is taken as estimated; the rest gives the speed.
    driving_estimate = route.distance_km / cost_model.average_speed_kmh * 60
    other = max(0.0, route.duration_min - driving_estimate)
    driving_actual = actual_duration_min - other
    speed = cost_model.average_speed_kmh
    if driving_actual > 0:
        speed = min(150.0, max(1.0, _ema(speed, actual_distance_km / (driving_actual / 60), weight)))
    fixed = float(cost_model.fixed_cost_per_vehicle)
    at_current_rates = actual_distance_km * fuel + actual_duration_min / 60 * driver
    if at_current_rates > 0 and actual_cost_kes > fixed:
        ratio = (actual_cost_kes - fixed) / at_current_rates
        fuel = _ema(fuel, fuel * ratio, weight)
        driver = _ema(driver, driver * ratio, weight)
    calibrated = {
        "road_factor": round(road_factor, 6),
        "average_speed_kmh": round(speed, 6),
        "outcomes_applied": cost_model.outcomes_applied + 1,  # the row is locked by route_complete
    }
    model_update(instance=cost_model, data=calibrated, reason=f"calibrated from route {route.reference}")
    rate_set(
        cost_model=cost_model,
        vehicle_type=route.vehicle.vehicle_type,
        fuel_cost_per_km=_money(fuel),
        driver_cost_per_hour=_money(driver),
    )
    after = {
        "version": cost_model.version,
        "road_factor": cost_model.road_factor,
        "average_speed_kmh": cost_model.average_speed_kmh,
        "vehicle_type": route.vehicle.vehicle_type,
        "fuel_cost_per_km": float(_money(fuel)),
        "driver_cost_per_hour": float(_money(driver)),
    }
    return {"before": before, "after": after, "applied": True}
