"""Between the database's world and the planner's: what a decision records of the rows it saw (the
state snapshot), the planner's instance built from that snapshot, and the plan as the decision
stores it.

Pure: these functions read the attributes of the rows they are given and never query, so the same
code serves the API's snapshot, ``manage.py plan_routes`` and the benchmarks. Moments become
minutes from the planning start, rounded so a window is never wider than the real one (starts and
earliest departures up, ends down, to a thousandth of a minute); stored arrivals round up to the
microsecond, so a promise is never earlier than the planner's time.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.utils import timezone

from . import planning

MICROSECONDS_PER_MINUTE = 60_000_000


def minutes_from(moment: datetime | None, start: datetime) -> float:
    """Unrounded minutes from ``start`` to ``moment`` (0 for no moment)."""
    if moment is None:
        return 0.0
    return (moment - start).total_seconds() / 60


def _up(minutes: float) -> float:
    return math.ceil(minutes * 1000 - 1e-6) / 1000


def _down(minutes: float) -> float:
    return math.floor(minutes * 1000 + 1e-6) / 1000


def hub_opens_min(hub, start: datetime) -> float:
    """Minutes from ``start`` until vehicles may leave the hub (0 while it is open)."""
    local = timezone.localtime(start)
    day = local.date()
    for offset in range(3):
        date = day + timedelta(days=offset)
        opens = timezone.make_aware(datetime.combine(date, hub.opening_time), local.tzinfo)
        closes = timezone.make_aware(datetime.combine(date, hub.closing_time), local.tzinfo)
        if local < closes:
            return max(0.0, _up((opens - local).total_seconds() / 60))
    return 0.0


def hub_snapshot(hub, start: datetime) -> dict:
    return {
        "id": str(hub.pk),
        "name": hub.name,
        "latitude": hub.latitude,
        "longitude": hub.longitude,
        "opens_min": hub_opens_min(hub, start),
    }


def order_snapshot(order, start: datetime, default_service: int) -> dict:
    return {
        "id": str(order.pk),
        "reference": order.reference,
        "version": order.version,
        "status": order.status,
        "city": order.destination_city,
        "latitude": order.destination_latitude,
        "longitude": order.destination_longitude,
        "weight_t": float(order.weight_t),
        "volume_m3": float(order.volume_m3),
        "window_start": order.window_start.isoformat(),
        "window_end": order.window_end.isoformat(),
        "window_start_min": _up(minutes_from(order.window_start, start)),
        "window_end_min": _down(minutes_from(order.window_end, start)),
        "service_min": order.service_minutes if order.service_minutes is not None else default_service,
        "priority": order.priority,
        "handling": order.handling,
        "price_kes": float(order.price_kes),
    }


def vehicle_snapshot(vehicle, start: datetime, rates: dict[str, tuple[float, float]], cost_model) -> dict:
    fuel, driver = rates.get(
        vehicle.vehicle_type, (float(cost_model.fuel_cost_per_km), float(cost_model.driver_cost_per_hour))
    )
    return {
        "id": str(vehicle.pk),
        "reference": vehicle.reference,
        "version": vehicle.version,
        "status": vehicle.status,
        "vehicle_type": vehicle.vehicle_type,
        "capacity_weight_t": float(vehicle.capacity_weight_t),
        "capacity_volume_m3": float(vehicle.capacity_volume_m3),
        "refrigerated": vehicle.refrigerated,
        "hazmat_certified": vehicle.hazmat_certified,
        "available_from_min": max(0.0, _up(minutes_from(vehicle.available_from, start))),
        "fuel_cost_per_km": fuel,
        "driver_cost_per_hour": driver,
    }


def cost_model_snapshot(cost_model, rates: dict[str, tuple[float, float]]) -> dict:
    return {
        "id": str(cost_model.pk),
        "version": cost_model.version,
        "average_speed_kmh": cost_model.average_speed_kmh,
        "road_factor": cost_model.road_factor,
        "default_service_minutes": cost_model.default_service_minutes,
        "fixed_cost_per_vehicle": float(cost_model.fixed_cost_per_vehicle),
        "fuel_cost_per_km": float(cost_model.fuel_cost_per_km),
        "driver_cost_per_hour": float(cost_model.driver_cost_per_hour),
        "rates": {k: {"fuel_cost_per_km": f, "driver_cost_per_hour": d} for k, (f, d) in rates.items()},
    }


def instance_from_snapshot(snapshot: dict) -> planning.Instance:
    cm = snapshot["cost_model"]
    hub = snapshot["hub"]
    return planning.build_instance(
        hub=planning.PlanHub(hub["latitude"], hub["longitude"], hub["opens_min"]),
        orders=[
            planning.PlanOrder(
                id=o["id"],
                reference=o["reference"],
                latitude=o["latitude"],
                longitude=o["longitude"],
                weight=o["weight_t"],
                volume=o["volume_m3"],
                window_start_min=o["window_start_min"],
                window_end_min=o["window_end_min"],
                service_min=o["service_min"],
                priority=o["priority"],
                handling=o["handling"],
                price=o["price_kes"],
                city=o["city"],
            )
            for o in snapshot["orders"]
        ],
        vehicles=[
            planning.PlanVehicle(
                id=v["id"],
                reference=v["reference"],
                vehicle_type=v["vehicle_type"],
                capacity_weight=v["capacity_weight_t"],
                capacity_volume=v["capacity_volume_m3"],
                refrigerated=v["refrigerated"],
                hazmat_certified=v["hazmat_certified"],
                available_from_min=v["available_from_min"],
                fuel_cost_per_km=v["fuel_cost_per_km"],
                driver_cost_per_hour=v["driver_cost_per_hour"],
            )
            for v in snapshot["vehicles"]
        ],
        costs=planning.PlanCosts(
            average_speed_kmh=cm["average_speed_kmh"],
            road_factor=cm["road_factor"],
            fixed_cost_per_vehicle=cm["fixed_cost_per_vehicle"],
        ),
    )


def moment(start: datetime, minutes: float) -> datetime:
    """``start`` plus ``minutes``, rounded up to the microsecond: never earlier than the planner's time."""
    return start + timedelta(microseconds=math.ceil(minutes * MICROSECONDS_PER_MINUTE - 1e-3))


def plan_to_json(plan: planning.Plan, start: datetime) -> dict:
    def at(minutes: float) -> str:
        return moment(start, minutes).isoformat()

    return {
        "routes": [
            {
                "vehicle_id": r.vehicle.id,
                "vehicle": r.vehicle.reference,
                "vehicle_type": r.vehicle.vehicle_type,
                "departure": at(r.start_min),
                "return": at(r.end_min),
                "distance_km": round(r.distance_km, 3),
                "duration_min": round(r.duration_min, 1),
                "cost_kes": round(r.cost, 2),
                "return_leg_km": round(r.return_km, 3),
                "weight_t": round(sum(s.order.weight for s in r.stops), 3),
                "volume_m3": round(sum(s.order.volume for s in r.stops), 3),
                "stops": [
                    {
                        "sequence": s.sequence,
                        "order_id": s.order.id,
                        "order": s.order.reference,
                        "city": s.order.city,
                        "latitude": s.order.latitude,
                        "longitude": s.order.longitude,
                        "estimated_arrival": at(s.arrival_min),
                        "leg_km": round(s.leg_km, 3),
                    }
                    for s in r.stops
                ],
            }
            for r in plan.routes
        ],
        "orders_routed": [s.order.id for r in plan.routes for s in r.stops],
    }


def left_out_json(plan: planning.Plan, snapshot_orders: list[dict]) -> list[dict]:
    """The orders a plan leaves out, with the reason, in reference order."""
    by_id = {o["id"]: o for o in snapshot_orders}
    return [
        {
            "order_id": oid,
            "order": by_id[oid]["reference"],
            "reason": str(reason),
            "reason_text": planning.LeftOutReason(reason).label,
        }
        for oid, reason in sorted(plan.left_out.items(), key=lambda item: by_id[item[0]]["reference"])
    ]
