"""Writing many new rows at once, with their change-history entries.

On PostgreSQL rows go in through ``COPY … FROM STDIN``: psycopg writes each value in PostgreSQL's
text format straight from the Python value, where ``bulk_create`` prepares every value through
its field and builds an INSERT statement with a parameter per value (for 100,000 loads and their
history entries, most of the time of an import). Elsewhere it is ``bulk_create``. Either way no
``save()`` runs and no signal is sent: callers validate first, and history entries are written
here, as ``simple_history``'s ``bulk_create_with_history`` would write them.
"""

from django.db import connections, router
from django.db.models import AutoField, BigAutoField, JSONField, SmallAutoField
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

_AUTO = (AutoField, BigAutoField, SmallAutoField)


def _copy(connection, model, fields, rows) -> None:
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _writers(connection, fields):
    # Values go as they are, but JSON, which needs psycopg's JSON wrapper (the field's own
    # database preparation).
    return [(field.attname, field if isinstance(field, JSONField) else None) for field in fields]


def _values(instance, writers, connection):
    return [
        getattr(instance, attname) if field is None else field.get_db_prep_save(getattr(instance, attname), connection)
        for attname, field in writers
    ]


def create_with_history(model, objects, *, user=None, batch_size: int = 2000) -> None:
    """Insert ``objects`` (new ``model`` instances with their primary keys set) and a "created"
    history entry for each, dated now and attributed to ``user``. Call it inside a transaction."""
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        for start in range(0, len(objects), batch_size):
            batch = objects[start : start + batch_size]
            bulk_create_with_history(batch, model, batch_size=batch_size, default_user=user)
        return

    fields = [field for field in model._meta.concrete_fields if not isinstance(field, _AUTO)]
    writers = _writers(connection, fields)
    _copy(connection, model, fields, (_values(obj, writers, connection) for obj in objects))

    history = model.history.model
    tracked = {field.attname for field in history.tracked_fields}
    now = timezone.now()
    extra = {"history_date": now, "history_change_reason": "", "history_type": "+", "history_user_id": user and user.pk}
    history_fields = [
        field
        for field in history._meta.concrete_fields
        if not isinstance(field, _AUTO) and (field.attname in tracked or field.attname in extra)
    ]
    history_writers = [
        (field.attname, field if isinstance(field, JSONField) else None, field.attname in extra)
        for field in history_fields
    ]

    def history_rows():
        for obj in objects:
            yield [
                extra[attname]
                if is_extra
                else getattr(obj, attname)
                if field is None
                else field.get_db_prep_save(getattr(obj, attname), connection)
                for attname, field, is_extra in history_writers
            ]

    _copy(connection, history, history_fields, history_rows())
