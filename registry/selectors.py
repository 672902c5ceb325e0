"""Reads that are more than a filter: the dependency graph, its traversals, statistics."""

from collections import deque
from graphlib import CycleError, TopologicalSorter

from django.db.models import Avg, Count, Q

from core import runtime

from .choices import BuildType, Priority, Protocol, ServiceStatus
from .models import Dependency, Service, stale_q


def dependency_edges(*, include_service=None) -> list[tuple[str, str]]:
    """Every ``(service, depends_on)`` name pair between live services, in one query.
    ``include_service`` also keeps the edges of that (possibly deleted) service."""
    alive = Q(service__deleted_at__isnull=True, depends_on__deleted_at__isnull=True)
    if include_service is not None:
        alive |= Q(service=include_service, depends_on__deleted_at__isnull=True)
        alive |= Q(depends_on=include_service, service__deleted_at__isnull=True)
    return list(Dependency.objects.filter(alive).values_list("service__name", "depends_on__name"))


def _adjacency(edges, *, reverse=False) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        if reverse:
            source, target = target, source
        graph.setdefault(source, set()).add(target)
    return graph


def _shortest_path(graph, start, goal) -> list[str] | None:
    previous = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = []
            while node is not None:
                path.append(node)
                node = previous[node]
            return path[::-1]
        for nxt in sorted(graph.get(node, ())):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None


def dependency_cycle(*, service_name: str, depends_on_name: str, edges=None) -> list[str] | None:
    """The cycle that ``service_name → depends_on_name`` would close, as names from
    ``service_name`` back to it (``["a", "b", "c", "a"]``), or None if the edge is safe."""
    if service_name == depends_on_name:
        return [service_name, service_name]
    graph = _adjacency(dependency_edges() if edges is None else edges)
    path = _shortest_path(graph, depends_on_name, service_name)
    return [service_name, *path] if path else None


def dependency_cycle_on_restore(*, service) -> list[str] | None:
    """A cycle the live graph would contain if ``service`` came back, else None."""
    graph = _adjacency(dependency_edges(include_service=service))
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        # graphlib lists each node before the one that depends on it; show "needs" order.
        return list(reversed(exc.args[1]))
    return None


def _reachable(graph, start) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for nxt in graph.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    seen.discard(start)
    return seen


def _ordered_services(names: list[str]) -> list[Service]:
    by_name = {s.name: s for s in Service.objects.filter(name__in=names)}
    return [by_name[name] for name in names if name in by_name]


def _topological(graph, nodes) -> list[str]:
    """``nodes`` with each one after everything it points to (ties broken by name)."""
    sorter = TopologicalSorter()
    for node in sorted(nodes):
        sorter.add(node, *sorted(target for target in graph.get(node, ()) if target in nodes))
    return list(sorter.static_order())


def service_dependencies(*, service, transitive=False) -> list[Service]:
    """What ``service`` needs. Transitively: everything it needs, in start-up order
    (each service after all of its own dependencies)."""
    if not transitive:
        return list(service.dependencies.filter(deleted_at__isnull=True).order_by("name"))
    graph = _adjacency(dependency_edges())
    needed = _reachable(graph, service.name)
    return _ordered_services(_topological(graph, needed))


def service_dependents(*, service, transitive=False) -> list[Service]:
    """What needs ``service``. Transitively: everything that breaks if it goes down,
    nearest first (each service after the impacted services it depends on)."""
    if not transitive:
        return list(service.dependents.filter(deleted_at__isnull=True).order_by("name"))
    edges = dependency_edges()
    impacted = _reachable(_adjacency(edges, reverse=True), service.name)
    return _ordered_services(_topological(_adjacency(edges), impacted))


def registry_statistics(*, stale_minutes=None) -> dict:
    """Counts over live services, all in one aggregate query."""
    if stale_minutes is None:
        stale_minutes = runtime.get("REGISTRY_STALE_MINUTES")
    groups = {"status": ServiceStatus, "build_type": BuildType, "protocol": Protocol, "priority": Priority}
    aggregates = {
        f"n_{field}__{value}": Count("pk", filter=Q(**{field: value}))
        for field, choices in groups.items()
        for value in choices.values
    }
    not_healthy = ~Q(status=ServiceStatus.HEALTHY)
    row = Service.objects.aggregate(
        n_total=Count("pk"),
        n_required=Count("pk", filter=Q(required=True)),
        n_required_not_healthy=Count("pk", filter=Q(required=True) & not_healthy),
        n_critical=Count("pk", filter=(Q(required=True) | Q(priority=Priority.CRITICAL)) & not_healthy),
        n_stale=Count("pk", filter=stale_q(stale_minutes)),
        average_response_time_ms=Avg("response_time_ms"),
        **aggregates,
    )
    average = row["average_response_time_ms"]
    return {
        "total": row["n_total"],
        **{
            f"by_{field}": {value: row[f"n_{field}__{value}"] for value in choices.values}
            for field, choices in groups.items()
        },
        "average_response_time_ms": round(average, 1) if average is not None else None,
        "required": row["n_required"],
        "required_not_healthy": row["n_required_not_healthy"],
        "critical": row["n_critical"],
        "stale": row["n_stale"],
        "stale_minutes": stale_minutes,
    }
