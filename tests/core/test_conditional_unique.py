"""Conditional unique constraints hold on every database: as partial unique indexes on PostgreSQL and SQLite, and
as generated columns under unique indexes on MySQL/MariaDB (core.db.conditional_unique)."""

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, models, transaction
from django.db.migrations.loader import MigrationLoader

from core.db.conditional_unique import EnforceConditionalUnique, generated_column, lookup_index
from tests.carriers.factories import CarrierFactory


def _conditional_uniques():
    return {
        (model._meta.app_label, model._meta.model_name, constraint.name)
        for model in apps.get_models()
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint) and constraint.condition is not None
    }


def _enforced_by_migrations():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {
        (app_label, operation.model_name, operation.name)
        for (app_label, _), migration in loader.disk_migrations.items()
        for operation in migration.operations
        if isinstance(operation, EnforceConditionalUnique)
    }


def test_every_conditional_unique_constraint_is_enforced_on_mysql():
    """A new UniqueConstraint(condition=...) fails here until a migration adds EnforceConditionalUnique for it:
    without one, MySQL and MariaDB would not enforce it at all (Django skips it there)."""
    found = _conditional_uniques()
    assert ("carriers", "load", "load_id_unique_alive") in found
    assert _enforced_by_migrations() == found


def test_generated_column_names_fit_mysql_and_stay_apart():
    long_column = "x" * 80
    assert len(generated_column("some_constraint", long_column)) <= 64
    assert generated_column("one", "post_id") != generated_column("two", "post_id")


@pytest.mark.django_db
def test_the_database_holds_an_index_named_after_each_constraint():
    with connection.cursor() as cursor:
        for app_label, model_name, name in _conditional_uniques():
            table = apps.get_model(app_label, model_name)._meta.db_table
            constraints = connection.introspection.get_constraints(cursor, table)
            if connection.vendor == "sqlite":
                # SQLite's introspection does not report partial indexes' uniqueness; the index is there.
                assert name in constraints, (table, name)
            else:
                assert constraints.get(name, {}).get("unique"), (table, name)
            if connection.vendor == "mysql":
                fields = [
                    apps.get_model(app_label, model_name)._meta.get_field(f).column
                    for f in next(
                        c.fields for c in apps.get_model(app_label, model_name)._meta.constraints if c.name == name
                    )
                ]
                assert constraints[lookup_index(name)]["columns"] == fields, (table, name)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "mysql", reason="MySQL/MariaDB's form of the constraint")
def test_a_lookup_by_a_live_unique_field_uses_an_index():
    from carriers.models import Load

    sql, params = Load.objects.filter(load_id="L-1").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        columns = [column[0] for column in cursor.description]
        plan = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    # The planner's pick on a near-empty table says little; that it may use the index is what counts.
    assert lookup_index("load_id_unique_alive") in (plan[0]["possible_keys"] or "").split(","), plan


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_a_second_live_row_and_admits_deleted_ones():
    """Past every check in Python (bulk_create validates nothing): the index itself decides."""
    from carriers.models import Carrier

    first = CarrierFactory(mc_number="123456")
    with pytest.raises(IntegrityError), transaction.atomic():
        Carrier.objects.bulk_create([CarrierFactory.build(mc_number="123456")])
    Carrier.objects.filter(pk=first.pk).update(deleted_at=first.created_at)
    Carrier.objects.bulk_create([CarrierFactory.build(mc_number="123456")])
    Carrier.objects.bulk_create([CarrierFactory.build(mc_number="123456", deleted_at=first.created_at)])
    assert Carrier.all_objects.filter(mc_number="123456").count() == 3
