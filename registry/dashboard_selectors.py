"""Reads the operations dashboard needs beyond what the registry API publishes: the status
board and one service's neighbourhood in the dependency graph, laid out for drawing."""

from collections import deque
from dataclasses import dataclass, field

from django.utils import timezone

from core import runtime

from . import selectors
from .choices import ServiceStatus
from .models import Service

# What the board shows for a service: the operator's own status wins, then staleness.
BOARD_STATES = ("healthy", "unhealthy", "stale", "unknown", "maintenance", "disabled")


def board_state(service: Service, *, stale_minutes: int, now=None) -> str:
    if service.status in (ServiceStatus.MAINTENANCE, ServiceStatus.DISABLED):
        return service.status
    if service.is_stale(stale_minutes, now=now):
        return "stale"
    return service.status


def service_board(*, stale_minutes: int | None = None) -> list[Service]:
    """Every live service, required ones first, then by priority (most urgent first) and
    name; each carries ``board_state``. One query."""
    if stale_minutes is None:
        stale_minutes = runtime.get("REGISTRY_STALE_MINUTES")
    now = timezone.now()
    services = list(Service.objects.with_priority_rank().order_by("-required", "priority_rank", "name"))
    for service in services:
        service.board_state = board_state(service, stale_minutes=stale_minutes, now=now)
    return services


@dataclass
class ServiceGraph:
    service: Service
    needs: list[Service]  # everything it needs, in start-up order
    needed_by: list[Service]  # everything that breaks if it goes down, nearest first
    nodes: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)


def _distances(adjacency: dict[str, set[str]], start: str) -> dict[str, int]:
    distance = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(adjacency.get(node, ())):
            if nxt not in distance:
                distance[nxt] = distance[node] + 1
                queue.append(nxt)
    return distance


def service_graph(*, service: Service, stale_minutes: int | None = None) -> ServiceGraph:
    """``service`` with what it needs and what needs it (transitively, as the API's
    ``dependencies`` / ``dependents`` with ``transitive=true`` answer), plus the edges
    between them. Nodes sit in columns: dependents left, the service in the middle, what
    it needs right, each column one step further along the graph."""
    if stale_minutes is None:
        stale_minutes = runtime.get("REGISTRY_STALE_MINUTES")
    needs = selectors.service_dependencies(service=service, transitive=True)
    needed_by = selectors.service_dependents(service=service, transitive=True)
    members = {service.name: service, **{s.name: s for s in needs}, **{s.name: s for s in needed_by}}

    edges = [(a, b) for a, b in selectors.dependency_edges() if a in members and b in members]
    forward: dict[str, set[str]] = {}
    backward: dict[str, set[str]] = {}
    for source, target in edges:
        forward.setdefault(source, set()).add(target)
        backward.setdefault(target, set()).add(source)
    column = _distances(forward, service.name)
    column.update({name: -steps for name, steps in _distances(backward, service.name).items() if steps})

    now = timezone.now()
    rows: dict[int, int] = {}
    graph = ServiceGraph(service=service, needs=needs, needed_by=needed_by)
    for name in sorted(members, key=lambda n: (column.get(n, 0), n)):
        node = members[name]
        x = column.get(name, 0)
        y = rows.get(x, 0)
        rows[x] = y + 1
        graph.nodes.append(
            {
                "name": name,
                "label": node.display_name or name,
                "state": board_state(node, stale_minutes=stale_minutes, now=now),
                "required": node.required,
                "selected": name == service.name,
                "x": x,
                "y": y,
            }
        )
    graph.links = [{"source": a, "target": b} for a, b in sorted(edges)]
    return graph
