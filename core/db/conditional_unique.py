"""Conditional unique constraints (live rows only, one open report per member, ...) enforced on MySQL and MariaDB.

Django creates a ``UniqueConstraint(condition=...)`` as a partial unique index on PostgreSQL and SQLite, and skips it
on MySQL and MariaDB, which have no partial indexes (check models.W036). There the migration operation
``EnforceConditionalUnique`` adds what those databases can enforce instead: a virtual generated column per field
of the constraint, holding the field's value where the condition holds and NULL elsewhere, under a unique index
named as the constraint, beside a plain index on the fields themselves for the queries that look rows up by
them. A unique index admits any number of NULLs, so rows outside the condition (deleted rows,
closed reports) never clash, and two rows inside it cannot both be written: the database refuses the second, as
the partial index does elsewhere, and the error names the constraint. On other databases the operation does
nothing, so one set of migrations serves all three.

The constraint itself stays declared on the model: model validation (``core.services``) checks it before a write
on every database, and the index is what holds when two writers race."""

import hashlib

from django.db import migrations
from django.db.models import UniqueConstraint
from django.db.models.sql import Query


class EnforceConditionalUnique(migrations.operations.base.Operation):
    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, name: str):
        self.model_name = model_name
        self.name = name

    def deconstruct(self):
        return self.__class__.__name__, [], {"model_name": self.model_name, "name": self.name}

    def state_forwards(self, app_label, state):
        pass  # the constraint is in the model's state already

    def describe(self):
        return f"Enforce the conditional unique constraint {self.name} on MySQL/MariaDB"

    @property
    def migration_name_fragment(self):
        return f"enforce_{self.name.lower()}"

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "mysql":
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        constraint = self._constraint(model)
        quote = schema_editor.quote_name
        condition = _condition_sql(model, constraint, schema_editor)
        columns = []
        for field_name in constraint.fields:
            field = model._meta.get_field(field_name)
            column = generated_column(self.name, field.column)
            schema_editor.execute(
                f"ALTER TABLE {quote(model._meta.db_table)} ADD COLUMN {quote(column)} "
                f"{field.db_type(schema_editor.connection)} AS (IF({condition}, {quote(field.column)}, NULL)) VIRTUAL"
            )
            columns.append(quote(column))
        table = quote(model._meta.db_table)
        schema_editor.execute(f"CREATE UNIQUE INDEX {quote(self.name)} ON {table} ({', '.join(columns)})")
        # Queries name the fields themselves ("load_id = … AND deleted_at IS NULL"), which MySQL and MariaDB do
        # not match to the generated columns' index: give the fields an index of their own, as the partial
        # index is on PostgreSQL, or a lookup by load id scans the table.
        base = ", ".join(quote(model._meta.get_field(name).column) for name in constraint.fields)
        schema_editor.execute(f"CREATE INDEX {quote(lookup_index(self.name))} ON {table} ({base})")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "mysql":
            return
        model = from_state.apps.get_model(app_label, self.model_name)
        constraint = self._constraint(model)
        quote = schema_editor.quote_name
        table = quote(model._meta.db_table)
        schema_editor.execute(f"DROP INDEX {quote(lookup_index(self.name))} ON {table}")
        schema_editor.execute(f"DROP INDEX {quote(self.name)} ON {table}")
        for field_name in constraint.fields:
            column = generated_column(self.name, model._meta.get_field(field_name).column)
            schema_editor.execute(f"ALTER TABLE {table} DROP COLUMN {quote(column)}")

    def _constraint(self, model) -> UniqueConstraint:
        for constraint in model._meta.constraints:
            if constraint.name == self.name:
                if (
                    not isinstance(constraint, UniqueConstraint)
                    or constraint.condition is None
                    or not constraint.fields
                ):
                    raise ValueError(f"{self.name} is not a conditional unique constraint over fields.")
                return constraint
        raise ValueError(f"{model._meta.label} has no constraint {self.name}.")


def lookup_index(constraint_name: str) -> str:
    """The name of the plain index over the constraint's own fields (MySQL allows 64 characters)."""
    return f"{constraint_name[:57]}_lookup"


def generated_column(constraint_name: str, column: str) -> str:
    """The generated column's name: the field's column and a short digest of the constraint's name, which keeps
    it within MySQL's 64 characters and apart from the same field's column under another constraint."""
    digest = hashlib.sha256(constraint_name.encode()).hexdigest()[:8]
    return f"{column[:40]}__uq_{digest}"


def _condition_sql(model, constraint: UniqueConstraint, schema_editor) -> str:
    """The condition as SQL over the table's own columns, as Django writes a partial index's WHERE clause."""
    query = Query(model=model, alias_cols=False)
    where = query.build_where(constraint.condition)
    sql, params = where.as_sql(query.get_compiler(connection=schema_editor.connection), schema_editor.connection)
    return sql % tuple(schema_editor.quote_value(param) for param in params)
