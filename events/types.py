"""Every event type the platform publishes, and who may read it.

A reader (the feed, the watch, the stream, a webhook endpoint's owner) sees a type only with the model permission
named here: the same permission that lets them read the object through the API. Payloads carry only what that
permission shows (never a load's ceiling, ``max_rate``); their shapes are in ``events.payloads`` and
docs/events.md."""

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    name: str
    permission: str  # "app_label.codename" a reader needs; "" for any signed-in user
    description: str


TYPES = {
    t.name: t
    for t in (
        EventType("load.posted", "carriers.view_load", "A load was posted on the board."),
        EventType("load.booked", "carriers.view_load", "A carrier booked a load at an agreed rate."),
        EventType("load.status_changed", "carriers.view_load", "A load moved to another status."),
        EventType("negotiation.closed", "carriers.view_negotiation", "A rate negotiation ended (booked or not)."),
        EventType("call.logged", "carriers.view_call", "A carrier call was logged."),
        EventType("follow_up.due", "carriers.view_followup", "A follow-up came due."),
        EventType("decision.proposed", "logistics.view_decision", "A routing decision has a proposed plan."),
        EventType("decision.committed", "logistics.view_decision", "A routing decision was committed."),
        EventType("decision.failed", "logistics.view_decision", "A routing decision failed."),
        EventType("route.started", "logistics.view_route", "A route started."),
        EventType("route.completed", "logistics.view_route", "A route was completed."),
        EventType("registry.service.registered", "registry.view_service", "A service was registered."),
        EventType("registry.service.updated", "registry.view_service", "A service's registration changed."),
        EventType("registry.service.health_changed", "registry.view_service", "A service's health status changed."),
        EventType("registry.service.deregistered", "registry.view_service", "A service was deregistered."),
        EventType("community.reply.created", "", "A reply was posted in the forum."),
        EventType("community.best_answer.chosen", "", "A reply was chosen as a post's best answer."),
    )
}


def readable_types(user) -> list[str]:
    """The types ``user`` may read, in TYPES' order."""
    if not user or not user.is_authenticated or not user.is_active:
        return []
    return [name for name, kind in TYPES.items() if not kind.permission or user.has_perm(kind.permission)]
