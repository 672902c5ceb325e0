"""The write path every app shares: one helper for single rows (``core.services.model_create`` /
``model_update``), bulk updates that leave history, soft delete and restore through the owning
app's rules whichever way they are reached, and no other raw ``.update(`` in a service."""

import ast
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models.signals import pre_save
from django.utils import timezone

from carriers.choices import LoadStatus, NegotiationStatus
from carriers.models import Carrier, Load, Negotiation
from core.context import acting_as, current_request
from core.errors import Conflict, Invalid
from core.history import update_with_history
from core.models import StaleVersionError
from core.services import DATABASE_RULE_BROKEN, model_create, model_update, object_delete
from tests.carriers.factories import CarrierFactory, LoadFactory
from tests.core.factories import WidgetFactory
from tests.core.testapp.models import Widget
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class Request:
    def __init__(self, user):
        self.user = user


def test_update_with_history_writes_like_a_save():
    load = LoadFactory()
    open_, other = (Negotiation.objects.create(load=load, carrier=CarrierFactory()) for _ in range(2))
    Negotiation.objects.filter(pk=other.pk).update(status=NegotiationStatus.REJECTED)
    user = UserFactory()
    token = current_request.set(Request(user))
    try:
        changed = update_with_history(
            Negotiation.objects.filter(load=load, status=NegotiationStatus.OPEN),
            status=NegotiationStatus.CLOSED,
            reason="load withdrawn",
        )
    finally:
        current_request.reset(token)
    assert changed == 1
    open_.refresh_from_db()
    assert (open_.status, open_.version, open_.updated_by) == (NegotiationStatus.CLOSED, 2, user)
    latest = open_.history.first()
    assert (latest.status, latest.version, latest.history_user, latest.history_change_reason) == (
        NegotiationStatus.CLOSED,
        2,
        user,
        "load withdrawn",
    )
    assert other.history.count() == 1  # untouched rows get no entry
    assert update_with_history(Negotiation.objects.none(), status=NegotiationStatus.OPEN) == 0


def test_update_with_history_entries_hold_the_rows_as_stored(django_assert_num_queries):
    # Carriers: JSON, lists, dates, booleans and nullable columns, copied into their entries by SQL.
    carriers = [
        CarrierFactory(
            fmcsa_data={"carrier": {"legalName": f"Hauler {n}", "ratio": 0.5, "flags": [True, None]}},
            ineligibility_reasons=["out_of_service"] if n % 2 else [],
            legal_name=f"Hauler {n} 'quoted' \\ ünïcode",
        )
        for n in range(3)
    ]
    user = UserFactory()
    token = current_request.set(Request(user))
    try:
        with django_assert_num_queries(3):  # the rows locked, updated, their entries copied
            update_with_history(Carrier.objects.filter(pk__in=[c.pk for c in carriers]), phone="+1 312 555 0100")
    finally:
        current_request.reset(token)
    for carrier in carriers:
        stored = Carrier.all_objects.get(pk=carrier.pk)
        entry = stored.history.first()
        assert (stored.phone, stored.version, stored.updated_by) == ("+1 312 555 0100", 2, user)
        for field in Carrier._meta.concrete_fields:
            assert getattr(entry, field.attname) == getattr(stored, field.attname), field.name
        assert (entry.history_type, entry.history_user, entry.history_change_reason) == ("~", user, None)
        assert stored.history.count() == 2


def test_queryset_delete_goes_through_the_apps_delete_rules():
    carrier = CarrierFactory()
    booked = LoadFactory(status=LoadStatus.BOOKED, booked_carrier=carrier, agreed_rate=Decimal("2000"))
    available = LoadFactory()
    with pytest.raises(Conflict, match="cancel it before deleting it"):
        Load.objects.filter(pk__in=[booked.pk, available.pk]).delete()
    assert Load.objects.count() == 2  # all or nothing
    with pytest.raises(Conflict, match="holds loads in progress"):
        object_delete(instance=carrier)
    assert Load.objects.filter(pk=available.pk).delete() == (1, {"carriers.Load": 1})


# --- The one-row helper ------------------------------------------------------------------------


@pytest.fixture
def user():
    return UserFactory()


@pytest.fixture
def widget(user):
    with acting_as(user):
        return WidgetFactory(name="pump")


def test_create_validates_with_the_models_rules_and_writes_nothing_on_refusal():
    with pytest.raises(Invalid) as refused:
        model_create(model=Widget, data={"name": "x" * 51, "size": -1})
    assert refused.value.fields == {
        "name": ["Ensure this value has at most 50 characters (it has 51)."],
        "size": ["Ensure this value is greater than or equal to 0."],
    }
    assert not Widget.all_objects.exists()


def test_a_taken_unique_value_is_refused_on_its_field_before_the_write(widget):
    # A live-rows-only constraint: full_clean() alone would file it under the whole row.
    with pytest.raises(Invalid) as refused:
        model_create(model=Widget, data={"name": "pump"})
    assert refused.value.fields == {"name": ["Widget with this Name already exists."]}
    with pytest.raises(Invalid) as worded:
        model_create(model=Widget, data={"name": "pump"}, unique_messages={"name": "That name is taken."})
    assert worded.value.fields == {"name": ["That name is taken."]}
    widget.delete()
    assert model_create(model=Widget, data={"name": "pump"}).name == "pump"  # deleted rows do not hold it


def test_an_integrity_error_becomes_invalid_on_its_field_and_nothing_is_written(widget):
    # validate=False stands in for two writers passing the checks at the same moment.
    with transaction.atomic():
        with pytest.raises(Invalid) as refused:
            model_create(model=Widget, data={"name": "pump"}, validate=False)
        assert refused.value.fields == {"name": ["Widget with this Name already exists."]}
        assert isinstance(refused.value.__cause__, IntegrityError)
        other = WidgetFactory(name="valve")
        with pytest.raises(Invalid) as refused:
            model_update(instance=other, data={"name": "pump", "size": 3}, validate=False)
        assert refused.value.fields == {"name": ["Widget with this Name already exists."]}
        # The savepoint kept the caller's transaction usable, and nothing of the refused writes.
        assert Widget.objects.count() == 2
    stored = Widget.objects.get(pk=other.pk)
    assert (stored.name, stored.size, stored.version, stored.history.count()) == ("valve", 1, 1, 1)
    assert other.version == 1  # the copy is not left claiming a version that was never written


def test_a_database_rule_no_check_names_is_a_non_field_error(widget):
    def refuse(sender, **kwargs):
        raise IntegrityError("CHECK constraint failed: somewhere")

    pre_save.connect(refuse, sender=Widget)
    try:
        with pytest.raises(Invalid) as refused:
            model_update(instance=widget, data={"size": 2})
    finally:
        pre_save.disconnect(refuse, sender=Widget)
    assert refused.value.fields == {"non_field_errors": [DATABASE_RULE_BROKEN]}


def test_update_stamps_the_acting_user_bumps_the_version_and_records_history(widget, user):
    editor = UserFactory()
    before = timezone.now()
    with acting_as(editor):
        updated, changed = model_update(instance=widget, data={"size": 5}, reason="resized")
    assert changed and updated is widget
    stored = Widget.objects.get(pk=widget.pk)
    assert (stored.size, stored.version, stored.created_by, stored.updated_by) == (5, 2, user, editor)
    assert stored.updated_at >= before
    entry = stored.history.first()
    assert (entry.history_type, entry.size, entry.version) == ("~", 5, 2)
    assert (entry.history_user, entry.history_change_reason) == (editor, "resized")
    assert not hasattr(widget, "_change_reason")  # the reason does not carry over to a later save


def test_an_update_that_changes_nothing_writes_nothing(widget):
    assert model_update(instance=widget, data={"name": "pump", "size": 1}) == (widget, False)
    assert (Widget.objects.get(pk=widget.pk).version, widget.history.count()) == (1, 1)


def test_only_the_changed_columns_are_written(widget):
    # A column moved by its own UPDATE meanwhile (a counter) is not written back from this copy.
    Widget.objects.filter(pk=widget.pk).update(size=9)
    model_update(instance=widget, data={"name": "valve"})
    stored = Widget.objects.get(pk=widget.pk)
    assert (stored.name, stored.size, stored.version) == ("valve", 9, 2)


def test_fields_limits_what_data_may_set(widget):
    _, changed = model_update(instance=widget, data={"name": "valve", "size": 4}, fields=["size"])
    assert changed and Widget.objects.values_list("name", "size").get(pk=widget.pk) == ("pump", 4)


def test_a_stale_copy_is_refused_with_a_conflict_and_writes_nothing(widget):
    stale = Widget.objects.get(pk=widget.pk)
    model_update(instance=widget, data={"size": 2})
    with pytest.raises(StaleVersionError) as refused:
        model_update(instance=stale, data={"size": 3})
    assert isinstance(refused.value, Conflict) and refused.value.code == "stale_version"
    stored = Widget.objects.get(pk=widget.pk)
    assert (stored.size, stored.version, stored.history.count()) == (2, 2, 2)


def test_the_helper_refuses_misuse(widget):
    with pytest.raises(ValueError, match="model_create"):
        model_update(instance=Widget(name="new"), data={"size": 2})


def test_the_admins_default_write_goes_through_the_helper(admin_client, admin_user, widget):
    url = f"/admin/testapp/widget/{widget.pk}/change/"
    refused = admin_client.post(url, {"name": "pump", "size": -1, "expected_version": 1})
    assert refused.status_code == 200 and refused.context["adminform"].form.errors["size"]
    WidgetFactory(name="valve")
    taken = admin_client.post("/admin/testapp/widget/add/", {"name": "valve", "size": 1})
    assert taken.status_code == 200  # a form error, not a 500
    assert taken.context["adminform"].form.errors["name"] == ["Widget with this Name already exists."]
    assert admin_client.post(url, {"name": "pump", "size": 6, "expected_version": 1}).status_code == 302
    stored = Widget.objects.get(pk=widget.pk)
    assert (stored.size, stored.version, stored.updated_by) == (6, 2, admin_user)
    assert stored.history.first().history_user == admin_user
    assert stored.updated_at > timezone.now() - timedelta(minutes=1)


# --- No other raw .update( in a service ---------------------------------------------------------

# Every ``.update(`` call in an app's services, by module and function. Each is a counter moved in
# the database (``# counter:``) or a conditional write that decides a race (``# race-safe
# conditional write:``), and says so on the line above. Anything else goes through
# ``core.services.model_update`` (one row) or ``core.history.update_with_history`` (many), which
# keep the version and the history. Add an entry only for one of those two reasons.
ALLOWED_RAW_UPDATES = {
    ("carriers.services", "_book"),  # the booking: UPDATE ... WHERE status = available AND version = read
    ("community.services", "reply_delete"),  # reply_count - 1
    ("community.services", "reply_restore"),  # reply_count + 1
    ("community.services", "post_view"),  # view_count + 1
    ("community.services", "_vote"),  # score + difference
    ("community.services", "reply_create"),  # reply_count + 1 with the activity time
    ("community.services", "notification_mark_read"),  # WHERE read_at IS NULL
    ("community.services", "notifications_mark_all_read"),  # WHERE read_at IS NULL
    ("registry.services", "service_record_health"),  # check counters, telemetry
    ("events.services", "assign_sequences"),  # an event's number, given once under the sequence lock
}
MARKERS = ("# counter:", "# race-safe conditional write:")


def _services_modules():
    """Every project app's ``services.py`` or ``services/`` package, as (module name, path)."""
    root = Path(__file__).resolve().parents[2]
    for config in apps.get_app_configs():
        path = Path(config.path)
        if root not in path.parents:
            continue  # Django's and third-party apps
        files = [path / "services.py"] + sorted((path / "services").glob("**/*.py"))
        for file in files:
            if file.is_file():
                parts = file.relative_to(root).with_suffix("").parts
                yield ".".join(part for part in parts if part != "__init__"), file


def _raw_updates():
    """(module, function, line of the statement, source lines) for each ``<x>.update(...)`` call."""
    for module, file in _services_modules():
        source = file.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for statement in ast.walk(function):
                if not isinstance(statement, ast.stmt) or statement is function:
                    continue
                nested = [n for n in ast.iter_child_nodes(statement) if not isinstance(n, ast.stmt)]
                calls = [n for expr in nested for n in ast.walk(expr) if isinstance(n, ast.Call)]
                for call in calls:
                    if isinstance(call.func, ast.Attribute) and call.func.attr == "update":
                        yield module, function.name, statement.lineno, lines


def test_services_modules_are_found():
    modules = {module for module, _ in _services_modules()}
    assert {"carriers.services", "community.services", "logistics.services", "registry.services"} <= modules


def test_raw_updates_in_services_are_only_the_allowed_counters_and_race_safe_writes():
    found = {(module, function) for module, function, _, _ in _raw_updates()}
    assert found - ALLOWED_RAW_UPDATES == set(), (
        "A raw .update( in a service skips the version and the history: use core.services.model_update "
        "or core.history.update_with_history (a dict's .update(): use |=). Only a counter or a race-safe "
        "conditional write may stay raw, added to ALLOWED_RAW_UPDATES with its comment."
    )
    assert ALLOWED_RAW_UPDATES - found == set(), "no longer raw: remove it from ALLOWED_RAW_UPDATES"


def test_each_allowed_raw_update_says_why():
    for module, function, line, lines in _raw_updates():
        assert lines[line - 2].strip().startswith(MARKERS), f"{module}.{function}, line {line}: say why it is raw"
