"""Row and transaction locks that hold on every supported database.

* ``lock_rows(queryset)``: ``select_for_update()`` that locks the queryset's own rows. PostgreSQL is told so with
  ``FOR UPDATE OF`` (it refuses FOR UPDATE on the nullable side of an outer join, which select_related makes).
  MySQL and MariaDB have no ``OF``: a FOR UPDATE there locks every row the statement reads, so the joins that
  select_related adds are dropped (related objects then load on access); a filter across a relation still joins,
  and locks the rows it joins too. SQLite serialises writers and ignores FOR UPDATE.
* ``transaction_lock(name)``: a lock held until the current transaction ends, for rules no single row carries (no
  cycle in the whole dependency graph). PostgreSQL: ``pg_advisory_xact_lock``. MySQL and MariaDB: their
  ``GET_LOCK`` outlives a rollback, so a row of ``core.NamedLock`` is locked FOR UPDATE instead. SQLite: the
  first write of a transaction already excludes every other writer."""

import zlib

from django.db import IntegrityError, connections, router, transaction


def lock_rows(queryset):
    connection = connections[router.db_for_write(queryset.model)]
    if connection.features.has_select_for_update_of:
        return queryset.select_for_update(of=("self",))
    return queryset.select_related(None).select_for_update()


def transaction_lock(name: str) -> None:
    """Take the lock ``name`` until the current transaction commits or rolls back (call it inside ``atomic``)."""
    from core.models import NamedLock

    alias = router.db_for_write(NamedLock)
    connection = connections[alias]
    if not connection.in_atomic_block:
        raise transaction.TransactionManagementError("transaction_lock() needs a transaction.")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # A signed 32-bit key from the name, stable across processes (unlike hash()).
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(name.encode()) - 2**31])
        return
    if connection.vendor == "sqlite":
        return
    locked = NamedLock.objects.using(alias).select_for_update().filter(name=name)
    if locked.exists():
        return
    try:
        with transaction.atomic(using=alias):
            NamedLock.objects.using(alias).create(name=name)  # the first use ever: the insert holds the row
    except IntegrityError:  # a concurrent first use created it: wait for it like any later use
        locked.exists()
