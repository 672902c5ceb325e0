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


def _copy(connection, model, fields, objects, fixed=None) -> None:
    """COPY ``objects`` into ``model``'s table, one row each from ``fields``; ``fixed`` gives
    values (by attname) that are the same on every row instead of read from the object."""
    fixed = fixed or {}
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    # Values go as they are, but JSON, which needs the field's own preparation (psycopg's wrapper).
    json = [isinstance(field, JSONField) for field in fields]
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for obj in objects:
            copy.write_row(
                [
                    fixed[field.attname]
                    if field.attname in fixed
                    else field.get_db_prep_save(getattr(obj, field.attname), connection)
                    if is_json
                    else getattr(obj, field.attname)
                    for field, is_json in zip(fields, json, strict=True)
                ]
            )


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
    _copy(connection, model, fields, objects)

    history = model.history.model
    tracked = {field.attname for field in history.tracked_fields}
    entry = {
        "history_date": timezone.now(),
        "history_change_reason": "",
        "history_type": "+",
        "history_user_id": user and user.pk,
    }
    history_fields = [
        field
        for field in history._meta.concrete_fields
        if not isinstance(field, _AUTO) and (field.attname in tracked or field.attname in entry)
    ]
    _copy(connection, history, history_fields, objects, fixed=entry)
