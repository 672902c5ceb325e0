"""Which audit foreign keys keep an index, and why.

An index on ``created_by``/``updated_by``/``deleted_by`` costs every write of its table (an import
writes 100,000 loads and their history rows at once) and pays only for a read that filters on that
user. So they carry none, except where ``KEPT`` says which read needs one: adding an index on an
audit key (a field's ``db_index``, a ``Meta.indexes`` or unique constraint led by it) fails here
until it is listed. See docs/architecture.md#audit-indexes.
"""

import pytest
from django.apps import apps
from django.db import connection, models
from simple_history.models import HistoricalChanges

from core.models import AUDIT_USER_FIELDS, BaseModel

# (model label, audit field) -> the read that filters on it.
KEPT = {
    ("community.UseCase", "created_by"): (
        "community.selectors.visible_use_cases shows drafts to whoever wrote them (created_by = user)"
    ),
}
# Not listed above: every history table keeps simple_history's index on ``history_user``. Nothing
# reads by it, but deleting a user (the Admin role can, in the admin) sets it to NULL (SET_NULL) on
# every history table, the largest tables there are; simple_history has no switch for it anyway.


def _audit_models():
    return [
        model
        for model in apps.get_models()
        if issubclass(model, BaseModel) or (issubclass(model, HistoricalChanges) and _has_audit_field(model))
    ]


def _has_audit_field(model):
    names = {field.name for field in model._meta.concrete_fields}
    return bool(names & set(AUDIT_USER_FIELDS))


def _leads_an_index(model, name: str) -> bool:
    """Whether an index of the model can look rows up by this field (it is the index's first column)."""
    field = model._meta.get_field(name)
    if field.db_index or field.unique:
        return True
    leading = [index.fields[0].lstrip("-") for index in model._meta.indexes if index.fields]
    leading += [
        constraint.fields[0]
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields
    ]
    leading += [fields[0] for fields in model._meta.unique_together if fields]
    return name in leading


def _indexed_audit_fields():
    return {
        (model._meta.label, name)
        for model in _audit_models()
        for name in AUDIT_USER_FIELDS
        if name in {field.name for field in model._meta.concrete_fields} and _leads_an_index(model, name)
    }


def test_the_audit_models_are_found():
    labels = {model._meta.label for model in _audit_models()}
    assert {"carriers.Load", "carriers.HistoricalLoad", "community.UseCase", "core.RuntimeSetting"} <= labels


def test_only_the_listed_audit_keys_are_indexed():
    assert _indexed_audit_fields() == set(KEPT)


def test_history_rows_index_only_history_user():
    for model in apps.get_models():
        if not issubclass(model, HistoricalChanges):
            continue
        field = model._meta.get_field("history_user")
        assert field.db_index, f"{model._meta.label}.history_user: a user's deletion scans the table without it"
        assert field.remote_field.on_delete is models.SET_NULL


@pytest.mark.django_db
def test_the_migrated_tables_match():
    """The migrations did what the models say: no database index starts with an audit column
    other than the ones kept (and ``history_user``'s)."""
    audit_columns = {f"{name}_id" for name in AUDIT_USER_FIELDS}
    found = set()
    with connection.cursor() as cursor:
        for model in _audit_models():
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            for details in constraints.values():
                columns = details["columns"] or []
                if (details["index"] or details["unique"]) and columns and columns[0] in audit_columns:
                    found.add((model._meta.label, columns[0].removesuffix("_id")))
    if connection.vendor == "mysql":
        # InnoDB indexes every foreign key column itself (it needs one to check the key), whatever the migrations
        # say: there the audit keys cost their index on every database write. docs/architecture.md says so.
        assert set(KEPT) <= found
    else:
        assert found == set(KEPT)
