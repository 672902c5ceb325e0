"""Queries whose SQL is compiled once per shape and then run with new values.

A hot list endpoint runs the same few queries over and over with different values: the ORM
builds and compiles that SQL again on every request, which costs more than running it. A
``PreparedQuery`` records what is asked of it (filters, ordering, a slice), builds the real
queryset once per shape — with placeholders where the values go — compiles it, and keeps the
SQL. Later requests of the same shape only bind their values and run it; the rows come back
as dicts through the same converters ``QuerySet.values()`` uses. What it does not understand it
hands to the ORM (``PreparedQuery``'s docstring), so a selector can return one to a stock view.

On PostgreSQL the statement is bound on the server and kept prepared on its pooled connection
with a generic plan. bench/search_paths.py measures this against Django's documented options
(``server_side_binding``, ``prepare_threshold``, ``plan_cache_mode``): see bench/RESULTS.md.

Its callers are selectors (``carriers.selectors.load_rows``) and services (``first()`` below). The
base queryset (soft-delete filter, joins, ``values()`` columns) comes from the caller's ``base()``,
which is only called to compile a new shape; ``key`` must name everything that shapes its SQL.
Tests hold the rows equal to the ORM's for the same query (tests/carriers/test_load_list.py,
tests/core/test_prepared.py).

Private APIs it touches, each held by tests/core/test_fastpaths_guards.py:

* ``DatabaseWrapper._prepare_cursor`` (wraps a cursor as ``connection.cursor()`` does) and the
  PostgreSQL backend's ``ServerBindingCursor``;
* the SQL compiler: ``Query.get_compiler()``, ``as_sql()``, ``select``/``col_count``/``klass_info``,
  ``get_converters()``; ``Query.values_select``/``annotation_select``/``extra_select``; and
  ``QuerySet._iterable_class`` (instances or values).
"""

import functools
import logging
import threading

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, FieldError
from django.db import connections, router
from django.db.models import Expression, JSONField
from django.db.models.constants import LOOKUP_SEP
from django.db.models.query import ModelIterable
from django.db.transaction import TransactionManagementError

logger = logging.getLogger(__name__)

# SQL per (database alias, shape); bounded, since values never enter the key.
_compiled: dict = {}
_compiled_lock = threading.Lock()
MAX_SHAPES = 512
# Lookups whose value is one SQL parameter (``__in`` takes a list, ``__range`` two).
SINGLE_VALUE_LOOKUPS = frozenset(("exact", "iexact", "gt", "gte", "lt", "lte"))
# Runs of one statement on a connection before PostgreSQL is asked to keep it prepared.
PREPARE_THRESHOLD = 2


class Param(Expression):
    """Where a value goes in the compiled SQL: compiles to one placeholder whose parameter is
    the Param itself, so the value's position can be found in the parameter list."""

    def __init__(self, index: int, output_field):
        super().__init__(output_field=output_field)
        self.index = index

    def as_sql(self, compiler, connection):
        return "%s", [self]

    def __str__(self):  # what a lookup that rewrites its parameter (iexact) starts from
        return f"\x1fparam{self.index}\x1f"

    def __hash__(self):
        return hash(("param", self.index))

    def __eq__(self, other):
        return self is other


@functools.cache
def _cursor_class(binary: bool):
    from django.db.backends.postgresql.base import ServerBindingCursor  # psycopg only where it is used

    if not binary:
        return ServerBindingCursor

    class BinaryResultsCursor(ServerBindingCursor):
        # Results in PostgreSQL's binary format: psycopg reads timestamps, numbers and UUIDs
        # from it without parsing their text (the same values; the tests compare them).
        def execute(self, query, params=None, *, prepare=None, binary=True):
            return super().execute(query, params, prepare=prepare, binary=binary)

    return BinaryResultsCursor


def _preparable_cursor(connection, *, binary: bool = True):
    """A cursor whose statements PostgreSQL keeps prepared, with a generic plan.

    Django's own cursors bind values on the client and never prepare, so PostgreSQL parses and
    plans every search again (planning the joins costs more than running the query). This one
    binds on the server (psycopg's ``Cursor``) and prepares each statement on the connection from
    its ``PREPARE_THRESHOLD``-th run; pooled connections keep their statements across requests.
    ``plan_cache_mode = force_generic_plan`` is set once per connection: it only concerns prepared
    statements, and these are the only ones, planned once for every value (each has an index that
    suits any value). Elsewhere this is an ordinary cursor: on other databases, with
    ``DB_PREPARE_HOT_QUERIES`` off (``DB_POOLER=pgbouncer``), and on a connection that turns out
    to pass through a pooler (``_behind_pooler``), where neither may outlive a transaction."""
    if connection.vendor != "postgresql" or not settings.DB_PREPARE_HOT_QUERIES:
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    with connection.wrap_database_errors:
        if _behind_pooler(raw):
            return connection.cursor()
        if not getattr(raw, "generic_plans", False) and not connection.in_atomic_block:
            # Outside a transaction, so a rollback cannot undo it.
            raw.execute("SET plan_cache_mode = force_generic_plan")
            raw.generic_plans = True
        # Django turns psycopg's preparing off (prepare_threshold=None) for poolers that cannot
        # follow it; it only ever applies to server-binding cursors, which only this module uses.
        raw.prepare_threshold = PREPARE_THRESHOLD
        # Wrapped as connection.cursor() wraps its own: query logging, execute wrappers, errors.
        return connection._prepare_cursor(_cursor_class(binary)(raw))


def _behind_pooler(raw) -> bool:
    """Whether this connection reaches PostgreSQL through a pooler nobody declared (DB_POOLER).

    PostgreSQL tells a new client the id of the process serving it, the one ``pg_backend_pid()``
    names; a pooler (PgBouncer, in any mode) hands out an id of its own, since the process behind
    it may change. Asked once per connection; a pooler found is logged once per process."""
    global _pooler_logged
    pooled = getattr(raw, "behind_pooler", None)
    if pooled is None:
        pooled = raw.execute("SELECT pg_backend_pid()").fetchone()[0] != raw.info.backend_pid
        raw.behind_pooler = pooled
        if pooled and not _pooler_logged:
            _pooler_logged = True
            logger.warning(
                "PostgreSQL answers through a connection pooler that DB_POOLER does not name: the hot queries "
                "are not prepared on its connections. Behind PgBouncer in transaction mode set "
                "DB_POOLER=pgbouncer, which also turns off what else it cannot follow (server-side cursors)."
            )
    return pooled


_pooler_logged = False


def _output_field(expression):
    try:
        return expression.output_field
    except FieldError:
        return None


class _Compiled:
    __slots__ = ("sql", "slots", "columns", "converters", "instances", "lock", "binary")

    def __init__(self, sql, slots, columns, converters, instances, lock, binary):
        self.sql = sql
        self.slots = slots  # per SQL parameter: ("value", index, field, lookup) or ("const", value)
        self.columns = columns  # the values() names, or the model's attnames for instances
        self.converters = converters  # [(column position, [converter functions], expression)]
        self.instances = instances  # rows become model instances (a queryset without values())
        self.lock = lock
        # JSON comes back as text for the field's own decoding; binary results would decode it.
        self.binary = binary


class PreparedQuery:
    """A queryset's stand-in whose SQL is compiled once per shape (see the module's docstring).

    What a list view, its filters and ``CursorPagination`` ask in the usual case stays prepared:
    ``filter()`` on a plain column with one value (``exact``, ``iexact``, ``gt``/``gte``/``lt``/``lte``),
    ``order_by()`` by names, ``all()``, one slice, ``get()``, ``first()``, ``select_for_update()``,
    iteration. Anything else (a ``Q``, a lookup across a relation or of another kind, ``None``,
    ``exclude()``, ``distinct()``, ``count()``...) is answered by the ORM queryset it stands for,
    built from ``base()`` with everything asked so far: same rows, without the compiled SQL."""

    def __init__(self, model, base, *, key):
        self.model = self._model = model
        self._base = base
        self._key = key
        self._filters: list[tuple[str, object]] = []  # (lookup path, value)
        self._ordering: tuple = ()
        self._slice: tuple | None = None
        self._lock = False
        self._first = False

    def _clone(self):
        clone = PreparedQuery.__new__(PreparedQuery)
        clone.__dict__.update(self.__dict__)
        clone._filters = list(self._filters)
        return clone

    def _field(self, path: str):
        name, _, lookup = path.partition(LOOKUP_SEP)
        meta = self._model._meta
        return meta.pk if name == "pk" else meta.get_field(name), lookup or "exact"

    def _bindable(self, path: str, value) -> bool:
        """Whether ``filter(path=value)`` is one bound value on one of the model's own columns."""
        if value is None or hasattr(value, "resolve_expression"):  # IS NULL, F(), subqueries
            return False
        try:
            field, lookup = self._field(path)
        except FieldDoesNotExist:
            return False
        return lookup in SINGLE_VALUE_LOOKUPS and field.concrete and not field.many_to_many

    def as_queryset(self):
        """The ORM queryset this query stands for."""
        queryset = self._base()
        for path, value in self._filters:
            queryset = queryset.filter(**{path: value})
        if self._ordering:
            queryset = queryset.order_by(*self._ordering)
        if self._lock:
            queryset = queryset.select_for_update()
        if self._slice is not None:
            queryset = queryset[self._slice[0] : self._slice[1]]
        return queryset

    def __getattr__(self, name):
        # The rest of the QuerySet API, answered by the ORM.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.as_queryset(), name)

    def all(self):
        return self._clone()

    def filter(self, *args, **lookups):
        if args or self._slice is not None or not all(self._bindable(p, v) for p, v in lookups.items()):
            return self.as_queryset().filter(*args, **lookups)
        clone = self._clone()
        for path, value in lookups.items():
            # Bad values fail here, as the ORM's filter() would.
            self._field(path)[0].get_prep_value(value)
            clone._filters.append((path, value))
        return clone

    def order_by(self, *ordering):
        if self._slice is not None or not all(isinstance(name, str) for name in ordering):
            return self.as_queryset().order_by(*ordering)
        clone = self._clone()
        clone._ordering = tuple(ordering)
        return clone

    def select_for_update(self, **kwargs):
        if kwargs or self._slice is not None:
            return self.as_queryset().select_for_update(**kwargs)
        clone = self._clone()
        clone._lock = True
        return clone

    def get(self, *args, **lookups):
        query = self.filter(*args, **lookups)
        if not isinstance(query, PreparedQuery) or query._slice is not None:
            return query.get()
        rows = list(query[:2])
        if not rows:
            raise self._model.DoesNotExist(f"{self._model._meta.object_name} matching query does not exist.")
        if len(rows) > 1:
            raise self._model.MultipleObjectsReturned(f"get() returned more than one {self._model._meta.object_name}.")
        return rows[0]

    def first(self):
        """The first row as ``QuerySet.first()`` gives it (ordered by the primary key when the
        query has no ordering), or None."""
        if self._slice is not None:
            return self.as_queryset().first()
        clone = self[:1]
        clone._first = True
        return next(iter(clone), None)

    def __getitem__(self, item):
        if not isinstance(item, slice) or item.step is not None or self._slice is not None:
            return self.as_queryset()[item]
        clone = self._clone()
        clone._slice = (item.start or 0, item.stop)
        return clone

    def _shape(self, alias):
        paths = tuple(path for path, _ in self._filters)
        return (alias, self._key, paths, self._ordering, self._slice, self._lock, self._first)

    def _compile(self, alias) -> _Compiled:
        queryset = self._base().using(alias)
        for index, (path, _) in enumerate(self._filters):
            queryset = queryset.filter(**{path: Param(index, self._field(path)[0])})
        if self._ordering:
            queryset = queryset.order_by(*self._ordering)
        if self._first and not queryset.ordered:
            queryset = queryset.order_by("pk")
        if self._lock:
            queryset = queryset.select_for_update()
        if self._slice is not None:
            queryset = queryset[self._slice[0] : self._slice[1]]
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        rewritten = {f"\x1fparam{index}\x1f": index for index in range(len(self._filters))}
        slots = []
        for param in params:
            if isinstance(param, Param):
                slots.append(("value", param.index, self._field(self._filters[param.index][0])[0], None))
            elif isinstance(param, str) and param in rewritten:
                # A lookup rewrote the placeholder's text (iexact escapes it for LIKE): the value
                # goes through the same rewriting when it is bound.
                index = rewritten[param]
                field, lookup = self._field(self._filters[index][0])
                slots.append(("value", index, field, lookup))
            else:
                slots.append(("const", param))
        found = {slot[1] for slot in slots if slot[0] == "value"}
        if found != set(range(len(self._filters))):
            raise ValueError(f"Could not place every value in {sql!r}.")
        select = compiler.select[: compiler.col_count]
        query = queryset.query
        instances = queryset._iterable_class is ModelIterable
        if instances:
            if query.select_related or compiler.klass_info["model"] is not self._model:
                raise ValueError("A prepared query builds instances of its own model only, without joins.")
            columns = [expression.target.attname for expression, _, _ in select]
        else:
            columns = [*query.extra_select, *query.values_select, *query.annotation_select]
        converters = [
            (position, funcs, expression)
            for position, (funcs, expression) in compiler.get_converters([s[0] for s in select]).items()
        ]
        binary = not any(isinstance(_output_field(expression), JSONField) for expression, _, _ in select)
        return _Compiled(sql, slots, columns, converters, instances, self._lock, binary)

    def _compiled_for(self, alias) -> _Compiled:
        shape = self._shape(alias)
        compiled = _compiled.get(shape)
        if compiled is None:
            compiled = self._compile(alias)
            with _compiled_lock:
                if len(_compiled) >= MAX_SHAPES:
                    _compiled.clear()
                _compiled[shape] = compiled
        return compiled

    def __iter__(self):
        alias = router.db_for_read(self._model)
        connection = connections[alias]
        compiled = self._compiled_for(alias)
        params = []
        for slot in compiled.slots:
            if slot[0] == "const":
                params.append(slot[1])
                continue
            _, index, field, rewrite = slot
            value = field.get_db_prep_value(self._filters[index][1], connection, prepared=False)
            if rewrite == "iexact":
                value = connection.ops.prep_for_iexact_query(value)
            elif rewrite is not None:
                raise ValueError(f"No binding for a rewritten {rewrite!r} parameter.")
            params.append(value)
        if compiled.lock and connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        with _preparable_cursor(connection, binary=compiled.binary) as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        columns = compiled.columns
        if compiled.converters:
            converted = []
            for row in rows:
                row = list(row)
                for position, funcs, expression in compiled.converters:
                    value = row[position]
                    for func in funcs:
                        value = func(value, expression, connection)
                    row[position] = value
                converted.append(row)
            rows = converted
        if compiled.instances:
            return iter([self._model.from_db(alias, columns, row) for row in rows])
        return iter([dict(zip(columns, row, strict=True)) for row in rows])


def first(manager, *, lock: bool = False, **lookups):
    """``manager.filter(**lookups).first()`` (after ``select_for_update()`` with ``lock``),
    compiled once per lookup shape: for the reads by key of the hot write paths (an offer round,
    a call logged, a verification), where compiling a single-row SELECT costs more than running
    it. Lookups are on plain fields or foreign-key columns (``load_id=…``), not relations."""
    model = manager.model
    query = PreparedQuery(model, manager.all, key=("first", model._meta.label, manager.name)).filter(**lookups)
    return (query.select_for_update() if lock else query).first()
