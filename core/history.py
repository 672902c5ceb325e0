from django.db import connections, router
from django.db.models import F

from . import clock
from .context import get_current_user
from .db.locks import lock_rows


def history_user(instance=None, request=None, **kwargs):
    """Who a change-history entry is by: the user acting now (a request's, or a command's or job's
    ``acting_as``), the one ``created_by``/``updated_by`` name. Every ``HistoricalRecords`` takes
    it as ``get_user``, so no request middleware of simple_history's is needed."""
    return get_current_user()


def record_history(instance, *, reason: str | None = None) -> None:
    """Add a change-history entry for a row written by ``queryset.update()``, which sends no
    signals and so leaves no history by itself. ``instance`` must hold the row as now stored."""
    record_history_many([instance], reason=reason)


def record_history_many(instances, *, reason: str | None = None) -> None:
    """``record_history`` for many rows at once (one INSERT)."""
    instances = list(instances)
    if instances:
        type(instances[0]).history.bulk_history_create(
            instances,
            update=True,
            default_user=get_current_user(),
            default_change_reason=reason,
            default_date=clock.now(),
        )


def copy_history_entries(model, pks: list, *, history_type: str, reason: str | None = None, user=None) -> None:
    """A history entry of ``history_type`` ("+" created, "~" changed) for each of the rows ``pks``,
    copied from the row as stored by one ``INSERT … SELECT``, dated now and attributed to ``user``:
    what ``bulk_history_create`` writes, without reading the rows into instances first."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    history = model.history.model
    entry = {
        "history_date": clock.now(),
        "history_change_reason": reason,  # None without one, as simple_history stores it
        "history_type": history_type,
        "history_user": user and user.pk,
    }
    # The model's fields are the tracked ones (in their own column), then the entry's own.
    targets = [history._meta.get_field(field.name).column for field in history.tracked_fields]
    targets += [history._meta.get_field(name).column for name in entry]
    sources = [quote(field.column) for field in history.tracked_fields] + ["%s"] * len(entry)
    params = [history._meta.get_field(name).get_db_prep_save(value, connection) for name, value in entry.items()]
    keys = [model._meta.pk.get_db_prep_value(pk, connection) for pk in pks]
    if connection.vendor == "postgresql":
        where, params = "= ANY(%s)", [*params, keys]  # one array parameter, however many rows
    else:
        where, params = f"IN ({', '.join(['%s'] * len(keys))})", [*params, *keys]
    sql = (
        f"INSERT INTO {quote(history._meta.db_table)} ({', '.join(map(quote, targets))}) "
        f"SELECT {', '.join(sources)} FROM {quote(model._meta.db_table)} "
        f"WHERE {quote(model._meta.pk.column)} {where} ORDER BY {quote(model._meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def update_with_history(queryset, *, reason: str | None = None, **changes) -> int:
    """``queryset.update(**changes)`` written like any other write: each row gets a new
    ``version``, ``updated_at``/``updated_by`` and a change-history entry. Call it inside a
    transaction; the rows are locked first, so the ones changed are exactly the ones recorded."""
    model = queryset.model
    # Locked in key order, so two updates over overlapping rows cannot wait on each other (and
    # no join is made for the model's default ordering).
    pks = list(lock_rows(queryset).order_by("pk").values_list("pk", flat=True))
    if not pks:
        return 0
    user = get_current_user()
    rows = model._base_manager.filter(pk__in=pks)
    count = rows.update(updated_at=clock.now(), updated_by=user, version=F("version") + 1, **changes)
    copy_history_entries(model, pks, history_type="~", reason=reason, user=user)
    return count
