"""Writes to the registry. Views, the admin and ``manage.py check_services`` all go through
these functions, so a rule (cycle refusal, flap thresholds) holds whichever way a change comes in."""

import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from core import outbound, runtime
from core.db.locks import transaction_lock
from core.errors import Conflict, Invalid
from core.history import record_history
from core.services import model_create, model_update, on_delete, on_restore
from core.tags import normalise_tag_names
from events import payloads
from events.services import publish

from .choices import OPERATOR_HELD_STATUSES, ServiceStatus
from .models import Dependency, Service, Tag, validate_http_url
from .selectors import dependency_cycle, dependency_cycle_on_restore

# The transaction lock (core.db.locks) that serialises dependency changes, so two concurrent
# additions cannot each pass the cycle check and together close a cycle.
DEPENDENCY_GRAPH_LOCK = "registry.dependency_graph"

NAME_TAKEN = "A service with this name already exists."
HEALTH_STATUSES = (ServiceStatus.HEALTHY, ServiceStatus.UNHEALTHY)


def _set_tags(service: Service, names: Iterable[str]) -> list[str]:
    tags = [Tag.objects.get_or_create(name=name)[0] for name in normalise_tag_names(names)]
    service.tags.set(tags)
    return [tag.name for tag in tags]


def _apply_status_rules(fields: dict, *, status: str = ServiceStatus.UNKNOWN, enabled: bool = True) -> bool:
    """The one place ``status`` and ``enabled`` are kept in step, for a new service (the
    defaults) and for a change to one (its stored values). Health checks alone decide healthy
    and unhealthy; operators move a service into maintenance, disable it, or send it back
    to ``unknown`` so the next checks decide afresh. Completes ``fields`` and answers whether
    the runs of consecutive check results start over."""
    if "status" in fields and "enabled" in fields and (fields["status"] == ServiceStatus.DISABLED) == fields["enabled"]:
        raise Invalid({"enabled": ["A service is disabled exactly when it is not enabled."]})
    if fields.get("status") in HEALTH_STATUSES and status in HEALTH_STATUSES:
        # The checks' own verdict, as the operator's copy showed it (checks may have flipped it
        # since, without a new version): theirs to keep, never written back by an edit.
        del fields["status"]
    status_changed = "status" in fields and fields["status"] != status
    enabled_changed = "enabled" in fields and fields["enabled"] != enabled
    if status_changed:
        if fields["status"] in HEALTH_STATUSES:
            raise Invalid({"status": [f"Only health checks set a service {fields['status']}."]})
        fields["enabled"] = fields["status"] != ServiceStatus.DISABLED
    elif enabled_changed:
        fields["status"] = ServiceStatus.UNKNOWN if fields["enabled"] else ServiceStatus.DISABLED
    return (status_changed or enabled_changed) and fields["status"] == ServiceStatus.UNKNOWN


def _refuse_internal_health_check_url(url: str) -> None:
    """The server will call this URL: refuse one that resolves to an address the outbound guard
    refuses (or to nothing). Runs outside the write transaction, since it waits on DNS. The
    probe checks again when it connects, so a name re-pointed later is still refused."""
    if not url:
        return
    try:
        validate_http_url(url)
    except ValidationError:
        return  # full_clean() reports a malformed URL in its own words
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as exc:
        raise Invalid({"health_check_url": [str(exc)]}, code="url_refused") from None


def service_create(*, name: str, tags: Iterable[str] = (), **fields) -> Service:
    _refuse_internal_health_check_url(fields.get("health_check_url", ""))
    with transaction.atomic():
        _apply_status_rules(fields)
        service = model_create(model=Service, data={"name": name, **fields}, unique_messages={"name": NAME_TAKEN})
        tag_names = _set_tags(service, tags)
        publish(
            "registry.service.registered", obj=service, payload=payloads.service_registered(service, tags=tag_names)
        )
    return service


def service_update(*, service: Service, tags: Iterable[str] | None = None, **fields) -> Service:
    # ``service`` is the caller's stored copy (the API's object, the admin's locked row): only a
    # changed URL is resolved, so an edit elsewhere never waits on, or fails for, DNS.
    if fields.get("health_check_url", service.health_check_url) != service.health_check_url:
        _refuse_internal_health_check_url(fields["health_check_url"])
    with transaction.atomic():
        service = Service.all_objects.select_for_update().get(pk=service.pk)
        runs_start_over = _apply_status_rules(fields, status=service.status, enabled=service.enabled)
        if runs_start_over:
            # Telemetry, which an edit never writes back; this reset is the operator's to make.
            fields |= {"consecutive_successes": 0, "consecutive_failures": 0}
        before = {name: getattr(service, name, None) for name in fields}
        model_update(instance=service, data=fields, unique_messages={"name": NAME_TAKEN})
        changed = [
            name
            for name, value in before.items()
            if getattr(service, name) != value and name not in Service._telemetry_fields
        ]
        if tags is not None:
            old_tags = set(service.tags.values_list("name", flat=True))
            if set(_set_tags(service, tags)) != old_tags:
                changed.append("tags")
        if changed:
            publish("registry.service.updated", obj=service, payload=payloads.service_updated(service, changed=changed))
    return service


def service_set_enabled(*, service: Service, enabled: bool) -> Service:
    return service_update(service=service, enabled=enabled)


def service_set_maintenance(*, service: Service, maintenance: bool) -> Service:
    if maintenance:
        return service_update(service=service, status=ServiceStatus.MAINTENANCE)
    if service.status != ServiceStatus.MAINTENANCE:
        return service
    return service_update(service=service, status=ServiceStatus.UNKNOWN)


@on_restore(Service)
def service_restore(*, instance: Service) -> None:
    """Bring a deleted service back, unless its name is taken or its dependencies would
    close a cycle with the live graph as it is now."""
    _lock_dependency_graph()
    instance.validate_restorable()
    cycle = dependency_cycle_on_restore(service=instance)
    if cycle:
        raise Conflict(
            f"Cannot restore: its dependencies would form a cycle {' → '.join(cycle)}.", code="dependency_cycle"
        )
    instance.restore()
    tags = list(instance.tags.values_list("name", flat=True))
    payload = payloads.service_registered(instance, tags=tags, restored=True)
    publish("registry.service.registered", obj=instance, payload=payload)


@on_delete(Service)
def service_deregister(*, instance: Service) -> None:
    """Deregister (soft-delete) a service: the API's DELETE, the admin's delete, ``queryset.delete()``; announced
    as ``registry.service.deregistered`` in the same transaction."""
    instance.delete()
    publish("registry.service.deregistered", obj=instance, payload=payloads.service_deregistered(instance))


@transaction.atomic
def service_record_health(
    *, service: Service, passing: bool, response_time_ms: int | None = None, checked_at=None
) -> Service:
    """Count one check result and flip the status only once the consecutive count reaches
    its threshold. Counters change in one UPDATE of database-side expressions on a locked
    row, so concurrent reports never lose a count. Telemetry: the row's ``version`` stays."""
    checked_at = checked_at or timezone.now()
    rows = Service.all_objects.filter(pk=service.pk)
    old_status = rows.select_for_update().values_list("status", flat=True).get()
    held = When(status__in=OPERATOR_HELD_STATUSES, then=F("status"))
    if passing:
        threshold = runtime.get("REGISTRY_SUCCESSES_BEFORE_HEALTHY")
        changes = {
            "success_count": F("success_count") + 1,
            "consecutive_successes": F("consecutive_successes") + 1,
            "consecutive_failures": Value(0),
            # Right-hand sides see the row as it was, so "+ 1 reaches the threshold" is ">= threshold - 1".
            "status": Case(
                held,
                When(consecutive_successes__gte=threshold - 1, then=Value(ServiceStatus.HEALTHY)),
                default=F("status"),
            ),
        }
    else:
        threshold = runtime.get("REGISTRY_FAILURES_BEFORE_UNHEALTHY")
        changes = {
            "failure_count": F("failure_count") + 1,
            "consecutive_failures": F("consecutive_failures") + 1,
            "consecutive_successes": Value(0),
            "status": Case(
                held,
                When(consecutive_failures__gte=threshold - 1, then=Value(ServiceStatus.UNHEALTHY)),
                default=F("status"),
            ),
        }
    if response_time_ms is not None:
        changes["response_time_ms"] = Value(response_time_ms)
    # counter: check counts move in the database (telemetry, so no new version); the status flips with them
    rows.update(last_health_check=checked_at, **changes)
    service.refresh_from_db()
    if service.status != old_status:
        # The counters change on every check and stay out of the history; a status flip is recorded and announced.
        record_history(service, reason=f"health checks: {old_status} → {service.status}")
        payload = payloads.service_health_changed(service, previous_status=old_status)
        publish("registry.service.health_changed", obj=service, payload=payload)
    return service


@dataclass(frozen=True)
class HeartbeatResult:
    seen: list[str]
    unknown: list[str]


def service_heartbeat(*, names: Iterable[str]) -> HeartbeatResult:
    """Mark the named live services seen now, in one UPDATE whatever the count; the
    names it did not match are unknown (never registered, or deleted). Telemetry: the
    rows' ``version`` stays."""
    names = list(dict.fromkeys(names))
    if not names:
        return HeartbeatResult(seen=[], unknown=[])
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    table = connection.ops.quote_name(Service._meta.db_table)
    if connection.vendor == "mysql":
        matched = _heartbeat_without_returning(table, now, names)
    else:
        if connection.vendor == "postgresql":
            match, names_param = "name = ANY(%s)", names
        else:  # SQLite: the names as one JSON parameter, however many
            match, names_param = "name IN (SELECT value FROM json_each(%s))", json.dumps(names)
        sql = f"UPDATE {table} SET last_seen = %s WHERE deleted_at IS NULL AND {match} RETURNING name"
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, names_param])
            matched = {row[0] for row in cursor.fetchall()}
    return HeartbeatResult(
        seen=[name for name in names if name in matched], unknown=[name for name in names if name not in matched]
    )


def _heartbeat_without_returning(table: str, now, names: list[str]) -> set[str]:
    """MySQL and MariaDB have no UPDATE … RETURNING: lock the live rows named, then mark those (two statements
    in one transaction; no savepoint inside a caller's)."""
    placeholders = ", ".join(["%s"] * len(names))
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name FROM {table} WHERE deleted_at IS NULL AND name IN ({placeholders}) FOR UPDATE", names
        )
        matched = {row[0] for row in cursor.fetchall()}
        if matched:
            found = ", ".join(["%s"] * len(matched))
            cursor.execute(f"UPDATE {table} SET last_seen = %s WHERE name IN ({found})", [now, *matched])
    return matched


def _lock_dependency_graph() -> None:
    transaction_lock(DEPENDENCY_GRAPH_LOCK)


def dependency_refusal(*, service: Service, depends_on: Service) -> str | None:
    """Why ``service`` may not depend on ``depends_on``, or None when it may."""
    if service.pk == depends_on.pk:
        return f"A service cannot depend on itself ({service.name} → {service.name})."
    if depends_on.is_deleted:
        return f"{depends_on.name} is deleted."
    cycle = dependency_cycle(service_name=service.name, depends_on_name=depends_on.name)
    if cycle:
        return f"{service.name} cannot depend on {depends_on.name}: that would create a cycle {' → '.join(cycle)}."
    return None


@transaction.atomic
def service_add_dependency(*, service: Service, depends_on: Service) -> tuple[Dependency, bool]:
    """Record that ``service`` needs ``depends_on``; refused if it would close a cycle.
    Adding an existing dependency again changes nothing (``created`` is False)."""
    _lock_dependency_graph()
    existing = Dependency.objects.filter(service=service, depends_on=depends_on).first()
    if existing is not None:
        return existing, False
    refusal = dependency_refusal(service=service, depends_on=depends_on)
    if refusal:
        code = "self_dependency" if service.pk == depends_on.pk else "dependency_cycle"
        raise Invalid({"name": [refusal]}, code=code)
    return Dependency.objects.create(service=service, depends_on=depends_on), True


@transaction.atomic
def service_remove_dependency(*, service: Service, depends_on: Service) -> bool:
    link = Dependency.objects.filter(service=service, depends_on=depends_on).first()
    if link is None:
        return False
    link.delete()
    return True


@transaction.atomic
def service_set_dependencies(*, service: Service, depends_on: Iterable[Service]) -> None:
    """Make ``service`` need exactly ``depends_on`` among live services (the admin form).
    Refusals are reported together, under ``dependencies``."""
    wanted = {other.pk: other for other in depends_on}
    current = {link.depends_on_id: link for link in service.dependency_links.select_related("depends_on")}
    for pk, link in current.items():
        if pk not in wanted and not link.depends_on.is_deleted:
            link.delete()
    refusals = []
    for pk, other in sorted(wanted.items(), key=lambda item: item[1].name):
        if pk not in current:
            try:
                service_add_dependency(service=service, depends_on=other)
            except Invalid as exc:
                refusals.extend(exc.fields["name"])
                code = exc.code
    if refusals:
        raise Invalid({"dependencies": refusals}, code=code)
