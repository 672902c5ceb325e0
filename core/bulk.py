"""Writing many new rows at once, with their change-history entries.

On PostgreSQL the rows go in through one ``COPY … FROM STDIN`` in the binary format: psycopg writes
each value as its column's type straight from the Python value, where ``bulk_create`` prepares
every value through its field and builds an INSERT statement with a parameter per value (for
100,000 loads, most of the time of an import). The rows stream while PostgreSQL stores them, so
preparing the next ones here overlaps with its work there. Each row's history entry is then copied
from the row as stored, by one ``INSERT … SELECT``, without sending the values again. Elsewhere it
is ``bulk_create``. Either way no ``save()`` runs and no signal is sent: callers validate first, and
history entries are written here, as ``simple_history``'s ``bulk_create_with_history`` would write
them.

``create_with_history`` takes model instances; ``create_rows_with_history`` takes each row's field
values, and on PostgreSQL builds no instance (for 100,000 loads, ``Model.__init__`` alone took
seconds). ``existing_values`` finds which of many keys are taken, before they are written.
"""

from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter

from django.db import connections, router
from django.db.models import NOT_PROVIDED, F, JSONField, Lookup
from simple_history.utils import bulk_create_with_history

from .history import copy_history_entries

Progress = Callable[[int, int], None]  # (rows written, all rows)


def _copy_with_history(connection, model, rows: Iterable[Mapping], total: int, *, user, every: int, progress):
    """COPY ``rows`` (each a mapping of every concrete field's value by attname) into ``model``'s
    table, then add each one's "created" history entry. Values are of their field's Python type,
    as a saved instance holds them (a UUID, an aware datetime, a Decimal...): the binary format
    has no text for PostgreSQL to interpret."""
    quote = connection.ops.quote_name
    fields = model._meta.concrete_fields
    table = model._meta.db_table
    columns = ", ".join(quote(field.column) for field in fields)
    values = itemgetter(*(field.attname for field in fields))
    pk = model._meta.pk.attname
    # Values go as they are, but JSON, which needs the field's own preparation (psycopg's wrapper).
    json = [(index, field) for index, field in enumerate(fields) if isinstance(field, JSONField)]
    pks = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
            [quote(table)],
        )
        types = dict(cursor.fetchall())
        with cursor.cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([types[field.column] for field in fields])
            for row in rows:
                pks.append(row[pk])
                if json:
                    row = list(values(row))
                    for index, field in json:
                        row[index] = field.get_db_prep_save(row[index], connection)
                    copy.write_row(row)
                else:
                    copy.write_row(values(row))
                if progress is not None and len(pks) % every == 0 and len(pks) < total:
                    progress(len(pks), total)
    copy_history_entries(model, pks, history_type="+", user=user)
    if progress is not None:
        progress(len(pks), total)


def create_with_history(
    model, objects: list, *, user=None, batch_size: int = 2000, progress: Progress | None = None
) -> None:
    """Insert ``objects`` (new ``model`` instances with their primary keys set) and a "created"
    history entry for each, dated now and attributed to ``user``; ``progress`` is told every
    ``batch_size`` rows. Call it inside a transaction."""
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        for start in range(0, len(objects), batch_size):
            batch = objects[start : start + batch_size]
            bulk_create_with_history(batch, model, batch_size=batch_size, default_user=user)
            if progress is not None:
                progress(start + len(batch), len(objects))
        return
    attnames = [field.attname for field in model._meta.concrete_fields]
    rows = ({name: getattr(obj, name) for name in attnames} for obj in objects)
    _copy_with_history(connection, model, rows, len(objects), user=user, every=batch_size, progress=progress)


def create_rows_with_history(
    model,
    rows: list[Mapping],
    *,
    fixed: Mapping | None = None,
    user=None,
    batch_size: int = 2000,
    progress: Progress | None = None,
) -> None:
    """``create_with_history`` for rows given as field values by attname, ``fixed`` ones the same
    for every row (over the row's own): each is stored as ``model(**{**row, **fixed})`` would be, a
    field given in neither taking its default (a callable one called for each row)."""
    fixed = dict(fixed or {})
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        objects = [model(**{**row, **fixed}) for row in rows]
        create_with_history(model, objects, user=user, batch_size=batch_size, progress=progress)
        return
    fields = model._meta.concrete_fields
    attnames = {field.attname for field in fields}
    if not attnames.issuperset(fixed):
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(set(fixed) - attnames))}")
    defaults, factories = {}, []
    for field in fields:
        if field.attname in fixed:
            continue
        if field.db_default is not NOT_PROVIDED:
            raise TypeError(f"{model.__name__}.{field.name} has a database default, which COPY cannot write")
        if field.has_default() and callable(field.default):
            factories.append((field.attname, field.default))
        else:
            defaults[field.attname] = field.get_default()

    def complete(row):
        if not attnames.issuperset(row):
            raise TypeError(f"{model.__name__} has no field {', '.join(sorted(set(row) - attnames))}")
        values = {**defaults, **row, **fixed}
        for name, factory in factories:
            if name not in row:
                values[name] = factory()
        return values

    completed = map(complete, rows)  # one row at a time, as COPY sends them
    _copy_with_history(connection, model, completed, len(rows), user=user, every=batch_size, progress=progress)


class _EqualsAny(Lookup):
    """``field = ANY(%s)``, the values as one array parameter (PostgreSQL)."""

    lookup_name = "equals_any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*params, list(self.rhs)]


def existing_values(queryset, field_name: str, values: list, *, batch_size: int = 2000) -> set:
    """The ones of ``values`` that rows of ``queryset`` hold in ``field_name``. On PostgreSQL one
    query takes them as one array (for 100,000 values, ``IN`` lists of thousands of parameters cost
    seconds to build and send, the array a fraction of one); elsewhere ``IN`` lists of ``batch_size``."""
    if connections[queryset.db].vendor == "postgresql":
        return set(queryset.filter(_EqualsAny(F(field_name), values)).values_list(field_name, flat=True))
    found = set()
    for start in range(0, len(values), batch_size):
        lookup = {f"{field_name}__in": values[start : start + batch_size]}
        found.update(queryset.filter(**lookup).values_list(field_name, flat=True))
    return found
