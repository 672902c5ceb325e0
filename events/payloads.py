"""The payload of each event type: one serializer per type (its fields, documented; registered as an OpenAPI
component ``EventPayload…``) and one function building the payload from the changed object.

A payload carries identifiers and the facts a receiver needs to act without reading the object back, and nothing a
reader of that type may not read (``events.types``): never a load's ceiling (``max_rate``) nor anything of the
negotiation's ceiling logic (counters, why an offer was refused), no email address, no text a moderator may hide
later (a reply's body, its author). Builders return JSON-ready values (money as a string with two decimals, times
in ISO 8601, as the API writes them) without running the serializer, so a bulk import builds 100,000 payloads
quickly; ``tests/events/test_published.py`` holds every builder's output to its serializer.

``PAYLOAD_SERIALIZERS`` maps each type to its serializer, for whatever documents the feed."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from .types import TYPES

_DATETIME = serializers.DateTimeField()


def when(value) -> str | None:
    """A time as the API writes it (ISO 8601 in the site's time zone)."""
    return None if value is None else _DATETIME.to_representation(value)


def money(value) -> str | None:
    """An amount in USD (or KES) as the API writes it: a string with two decimals."""
    return None if value is None else f"{Decimal(value):.2f}"


def ident(value) -> str | None:
    return None if value is None else str(value)


def _money_field(help_text: str, **kwargs):
    return serializers.DecimalField(max_digits=14, decimal_places=2, help_text=help_text, **kwargs)


def _component(event_type: str):
    name = "EventPayload" + "".join(part.capitalize() for part in event_type.replace(".", "_").split("_"))
    return extend_schema_serializer(component_name=name)


# --- Carriers: loads, negotiations, calls, follow-ups ------------------------------------------


class _LoadRef(serializers.Serializer):
    id = serializers.UUIDField(help_text="The load's primary key (``id`` in /api/v1/loads/).")
    load_id = serializers.CharField(help_text="The broker's reference, e.g. L-10042.")


@_component("load.posted")
class LoadPostedPayload(_LoadRef):
    origin_city = serializers.CharField()
    origin_state = serializers.CharField(help_text="Two-letter state code.")
    destination_city = serializers.CharField()
    destination_state = serializers.CharField(help_text="Two-letter state code.")
    pickup_datetime = serializers.DateTimeField()
    delivery_datetime = serializers.DateTimeField()
    equipment_type = serializers.CharField(help_text="dry_van, reefer, flatbed, …")
    loadboard_rate = _money_field("The posted rate in USD, what the broker offers to pay.")
    weight = serializers.IntegerField(help_text="Pounds.")
    miles = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(help_text="Always available: a load is posted on the board.")


@_component("load.booked")
class LoadBookedPayload(_LoadRef):
    carrier_id = serializers.UUIDField(help_text="The booking carrier's primary key.")
    mc_number = serializers.CharField(help_text="The booking carrier's MC number.")
    agreed_rate = _money_field("The rate agreed with the carrier, in USD.")
    loadboard_rate = _money_field("The posted rate in USD.")
    negotiation_id = serializers.UUIDField(help_text="The negotiation that booked the load.")
    booked_at = serializers.DateTimeField()


@_component("load.status_changed")
class LoadStatusChangedPayload(_LoadRef):
    previous_status = serializers.CharField()
    status = serializers.CharField(help_text="available, booked, in_transit, delivered, cancelled.")
    mc_number = serializers.CharField(allow_null=True, help_text="The carrier holding the load now, if any.")
    changed_at = serializers.DateTimeField()


@_component("negotiation.closed")
class NegotiationClosedPayload(serializers.Serializer):
    id = serializers.UUIDField(help_text="The negotiation's primary key.")
    load_pk = serializers.UUIDField(help_text="The load's primary key.")
    load_id = serializers.CharField(help_text="The broker's reference of the load.")
    carrier_id = serializers.UUIDField()
    mc_number = serializers.CharField()
    status = serializers.CharField(
        help_text="booked (this carrier agreed), rejected (no agreement) or closed (another carrier booked the load)."
    )
    rounds_used = serializers.IntegerField()
    agreed_rate = _money_field("The agreed rate in USD when booked, else null.", allow_null=True)
    closed_at = serializers.DateTimeField()


@_component("call.logged")
class CallLoggedPayload(serializers.Serializer):
    id = serializers.UUIDField(help_text="The call's primary key.")
    external_id = serializers.CharField(help_text="The voice platform's id for the call.")
    mc_number = serializers.CharField(allow_blank=True, help_text="As the caller gave it; blank when not given.")
    carrier_id = serializers.UUIDField(allow_null=True, help_text="The known carrier with that MC number, if any.")
    load_pk = serializers.UUIDField(allow_null=True, help_text="The load discussed, if any.")
    load_id = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField()
    duration_seconds = serializers.IntegerField()
    outcome = serializers.CharField()
    sentiment = serializers.CharField()
    rounds_linked = serializers.IntegerField(help_text="Negotiation rounds made during the call, now linked to it.")
    follow_up_ids = serializers.ListField(child=serializers.UUIDField(), help_text="Follow-ups added with the call.")


@_component("follow_up.due")
class FollowUpDuePayload(serializers.Serializer):
    id = serializers.UUIDField(help_text="The follow-up's primary key.")
    call_id = serializers.UUIDField()
    call_external_id = serializers.CharField()
    reason = serializers.CharField()
    due_at = serializers.DateTimeField()
    assigned_to = serializers.CharField(allow_null=True, help_text="The rep's username; null when unassigned.")


# --- Logistics: decisions and routes -----------------------------------------------------------


@_component("decision.proposed")
class DecisionProposedPayload(serializers.Serializer):
    id = serializers.UUIDField(help_text="The decision's primary key.")
    decision_type = serializers.CharField()
    planning_start = serializers.DateTimeField()
    routes = serializers.IntegerField(help_text="Routes in the proposed plan.")
    orders_routed = serializers.IntegerField()
    orders_left_out = serializers.IntegerField()
    total_cost_kes = _money_field("The plan's estimated cost in KES.", allow_null=True)
    total_distance_km = serializers.FloatField(allow_null=True)
    confidence = serializers.FloatField(allow_null=True, help_text="Share of the orders seen that were routed.")
    computation_ms = serializers.IntegerField(allow_null=True)


@_component("decision.committed")
class DecisionCommittedPayload(serializers.Serializer):
    id = serializers.UUIDField(help_text="The decision's primary key.")
    decision_type = serializers.CharField()
    committed_at = serializers.DateTimeField()
    route_ids = serializers.ListField(child=serializers.UUIDField(), help_text="The routes created.")
    route_references = serializers.ListField(child=serializers.CharField())
    orders_routed = serializers.IntegerField()
    total_cost_kes = _money_field("The plan's estimated cost in KES.", allow_null=True)


@_component("decision.failed")
class DecisionFailedPayload(serializers.Serializer):
    id = serializers.UUIDField(help_text="The decision's primary key.")
    decision_type = serializers.CharField()
    failure_reason = serializers.CharField()
    failed_at = serializers.DateTimeField()


class _RouteRef(serializers.Serializer):
    id = serializers.UUIDField(help_text="The route's primary key.")
    reference = serializers.CharField()
    decision_id = serializers.UUIDField()
    vehicle_id = serializers.UUIDField()


@_component("route.started")
class RouteStartedPayload(_RouteRef):
    started_at = serializers.DateTimeField()
    orders_in_transit = serializers.IntegerField()


@_component("route.completed")
class RouteCompletedPayload(_RouteRef):
    completed_at = serializers.DateTimeField()
    outcome_id = serializers.UUIDField(help_text="The operational outcome recorded.")
    on_time = serializers.IntegerField()
    late = serializers.IntegerField()
    failed = serializers.IntegerField()
    actual_distance_km = serializers.FloatField()
    actual_duration_min = serializers.FloatField()
    actual_cost_kes = _money_field("What the route cost, in KES.")


# --- Registry ---------------------------------------------------------------------------------


class _ServiceRef(serializers.Serializer):
    id = serializers.UUIDField(help_text="The service's primary key.")
    name = serializers.CharField(help_text="Machine name; the API addresses services by it.")


@_component("registry.service.registered")
class ServiceRegisteredPayload(_ServiceRef):
    display_name = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    enabled = serializers.BooleanField()
    required = serializers.BooleanField()
    priority = serializers.CharField()
    protocol = serializers.CharField()
    service_version = serializers.CharField(allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField())
    restored = serializers.BooleanField(help_text="True when a deregistered service was brought back.")


@_component("registry.service.updated")
class ServiceUpdatedPayload(_ServiceRef):
    changed = serializers.ListField(child=serializers.CharField(), help_text="The fields changed (``tags`` too).")
    status = serializers.CharField()
    enabled = serializers.BooleanField()
    version = serializers.IntegerField(help_text="The record's version after the change.")


@_component("registry.service.health_changed")
class ServiceHealthChangedPayload(_ServiceRef):
    previous_status = serializers.CharField()
    status = serializers.CharField(help_text="healthy or unhealthy.")
    checked_at = serializers.DateTimeField()
    consecutive_successes = serializers.IntegerField()
    consecutive_failures = serializers.IntegerField()
    response_time_ms = serializers.IntegerField(allow_null=True)


@_component("registry.service.deregistered")
class ServiceDeregisteredPayload(_ServiceRef):
    deregistered_at = serializers.DateTimeField()


# --- Community --------------------------------------------------------------------------------


@_component("community.reply.created")
class ReplyCreatedPayload(serializers.Serializer):
    id = serializers.UUIDField(help_text="The reply's primary key.")
    post_id = serializers.UUIDField()
    parent_id = serializers.UUIDField(allow_null=True, help_text="The reply answered, if any.")
    created_at = serializers.DateTimeField()


@_component("community.best_answer.chosen")
class BestAnswerChosenPayload(serializers.Serializer):
    post_id = serializers.UUIDField()
    reply_id = serializers.UUIDField(help_text="The reply chosen.")
    previous_reply_id = serializers.UUIDField(allow_null=True, help_text="The best answer it replaced, if any.")
    chosen_at = serializers.DateTimeField()


PAYLOAD_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    "load.posted": LoadPostedPayload,
    "load.booked": LoadBookedPayload,
    "load.status_changed": LoadStatusChangedPayload,
    "negotiation.closed": NegotiationClosedPayload,
    "call.logged": CallLoggedPayload,
    "follow_up.due": FollowUpDuePayload,
    "decision.proposed": DecisionProposedPayload,
    "decision.committed": DecisionCommittedPayload,
    "decision.failed": DecisionFailedPayload,
    "route.started": RouteStartedPayload,
    "route.completed": RouteCompletedPayload,
    "registry.service.registered": ServiceRegisteredPayload,
    "registry.service.updated": ServiceUpdatedPayload,
    "registry.service.health_changed": ServiceHealthChangedPayload,
    "registry.service.deregistered": ServiceDeregisteredPayload,
    "community.reply.created": ReplyCreatedPayload,
    "community.best_answer.chosen": BestAnswerChosenPayload,
}
assert set(PAYLOAD_SERIALIZERS) == set(TYPES), "every event type has its payload serializer"


# --- Builders ---------------------------------------------------------------------------------
# Each takes the changed object as the service holds it just after the change (plus what only the service knows)
# and returns the payload, JSON-ready.


def load_posted(values) -> dict:
    """From a ``Load`` or, for rows the import writes without an instance, a mapping of its values by attname."""
    get = values.get if isinstance(values, dict) else lambda name: getattr(values, name)
    return {
        "id": ident(get("id")),
        "load_id": get("load_id"),
        "origin_city": get("origin_city"),
        "origin_state": get("origin_state"),
        "destination_city": get("destination_city"),
        "destination_state": get("destination_state"),
        "pickup_datetime": when(get("pickup_datetime")),
        "delivery_datetime": when(get("delivery_datetime")),
        "equipment_type": get("equipment_type"),
        "loadboard_rate": money(get("loadboard_rate")),
        "weight": get("weight"),
        "miles": get("miles"),
        "status": get("status"),
    }


def load_booked(load, *, carrier, negotiation) -> dict:
    return {
        "id": ident(load.pk),
        "load_id": load.load_id,
        "carrier_id": ident(carrier.pk),
        "mc_number": carrier.mc_number,
        "agreed_rate": money(load.agreed_rate),
        "loadboard_rate": money(load.loadboard_rate),
        "negotiation_id": ident(negotiation.pk),
        "booked_at": when(load.booked_at),
    }


def load_status_changed(load, *, previous_status: str, mc_number: str | None) -> dict:
    return {
        "id": ident(load.pk),
        "load_id": load.load_id,
        "previous_status": previous_status,
        "status": load.status,
        "mc_number": mc_number,
        "changed_at": when(load.updated_at),
    }


def negotiation_closed(negotiation, *, load, mc_number: str, closed_at) -> dict:
    return {
        "id": ident(negotiation.pk),
        "load_pk": ident(load.pk),
        "load_id": load.load_id,
        "carrier_id": ident(negotiation.carrier_id),
        "mc_number": mc_number,
        "status": negotiation.status,
        "rounds_used": negotiation.rounds_used,
        "agreed_rate": money(negotiation.agreed_rate),
        "closed_at": when(closed_at),
    }


def call_logged(call, *, rounds_linked: int, follow_ups=()) -> dict:
    return {
        "id": ident(call.pk),
        "external_id": call.external_id,
        "mc_number": call.mc_number,
        "carrier_id": ident(call.carrier_id),
        "load_pk": ident(call.load_id),
        "load_id": call.load.load_id if call.load_id else None,
        "started_at": when(call.started_at),
        "duration_seconds": call.duration_seconds,
        "outcome": call.outcome,
        "sentiment": call.sentiment,
        "rounds_linked": rounds_linked,
        "follow_up_ids": [ident(follow_up.pk) for follow_up in follow_ups],
    }


def follow_up_due(follow_up, *, call_external_id: str, assigned_to: str | None) -> dict:
    return {
        "id": ident(follow_up.pk),
        "call_id": ident(follow_up.call_id),
        "call_external_id": call_external_id,
        "reason": follow_up.reason,
        "due_at": when(follow_up.due_at),
        "assigned_to": assigned_to,
    }


def decision_proposed(decision) -> dict:
    return {
        "id": ident(decision.pk),
        "decision_type": decision.decision_type,
        "planning_start": when(decision.planning_start),
        "routes": len((decision.plan or {}).get("routes", [])),
        "orders_routed": decision.orders_routed,
        "orders_left_out": len(decision.left_out or []),
        "total_cost_kes": money(decision.total_cost_kes),
        "total_distance_km": decision.total_distance_km,
        "confidence": decision.confidence,
        "computation_ms": decision.computation_ms,
    }


def decision_committed(decision, *, routes) -> dict:
    return {
        "id": ident(decision.pk),
        "decision_type": decision.decision_type,
        "committed_at": when(decision.committed_at),
        "route_ids": [ident(route.pk) for route in routes],
        "route_references": [route.reference for route in routes],
        "orders_routed": decision.orders_routed,
        "total_cost_kes": money(decision.total_cost_kes),
    }


def decision_failed(decision) -> dict:
    return {
        "id": ident(decision.pk),
        "decision_type": decision.decision_type,
        "failure_reason": decision.failure_reason,
        "failed_at": when(decision.updated_at),
    }


def _route_ref(route) -> dict:
    return {
        "id": ident(route.pk),
        "reference": route.reference,
        "decision_id": ident(route.decision_id),
        "vehicle_id": ident(route.vehicle_id),
    }


def route_started(route, *, orders_in_transit: int) -> dict:
    return {**_route_ref(route), "started_at": when(route.started_at), "orders_in_transit": orders_in_transit}


def route_completed(route, *, outcome) -> dict:
    return {
        **_route_ref(route),
        "completed_at": when(route.completed_at),
        "outcome_id": ident(outcome.pk),
        "on_time": outcome.on_time_count,
        "late": outcome.late_count,
        "failed": outcome.failed_count,
        "actual_distance_km": outcome.actual_distance_km,
        "actual_duration_min": outcome.actual_duration_min,
        "actual_cost_kes": money(outcome.actual_cost_kes),
    }


def service_registered(service, *, tags, restored: bool = False) -> dict:
    return {
        "id": ident(service.pk),
        "name": service.name,
        "display_name": service.display_name,
        "status": service.status,
        "enabled": service.enabled,
        "required": service.required,
        "priority": service.priority,
        "protocol": service.protocol,
        "service_version": service.service_version,
        "tags": sorted(tags),
        "restored": restored,
    }


def service_updated(service, *, changed) -> dict:
    return {
        "id": ident(service.pk),
        "name": service.name,
        "changed": sorted(changed),
        "status": service.status,
        "enabled": service.enabled,
        "version": service.version,
    }


def service_health_changed(service, *, previous_status: str) -> dict:
    return {
        "id": ident(service.pk),
        "name": service.name,
        "previous_status": previous_status,
        "status": service.status,
        "checked_at": when(service.last_health_check),
        "consecutive_successes": service.consecutive_successes,
        "consecutive_failures": service.consecutive_failures,
        "response_time_ms": service.response_time_ms,
    }


def service_deregistered(service) -> dict:
    return {"id": ident(service.pk), "name": service.name, "deregistered_at": when(service.deleted_at)}


def reply_created(reply) -> dict:
    return {
        "id": ident(reply.pk),
        "post_id": ident(reply.post_id),
        "parent_id": ident(reply.parent_id),
        "created_at": when(reply.created_at),
    }


def best_answer_chosen(*, post, reply, previous_reply_id, chosen_at) -> dict:
    return {
        "post_id": ident(post.pk),
        "reply_id": ident(reply.pk),
        "previous_reply_id": ident(previous_reply_id),
        "chosen_at": when(chosen_at),
    }
