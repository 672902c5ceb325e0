import pytest
from django.apps import apps
from django.db import IntegrityError, transaction

from carriers.models import Carrier, Load
from core.context import current_request
from core.errors import Conflict
from core.models import SoftDeleteModel, SoftDeleteQuerySet, StaleVersionError
from registry.models import Service
from tests.carriers.factories import CarrierFactory, LoadFactory
from tests.core.testapp.models import Widget
from tests.factories import UserFactory
from tests.registry.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def test_deleted_rows_are_hidden_from_objects_but_not_all_objects():
    kept, gone = Widget.objects.create(name="kept"), Widget.objects.create(name="gone")
    gone.delete()
    assert list(Widget.objects.all()) == [kept]
    assert set(Widget.all_objects.all()) == {kept, gone}
    assert Widget.all_objects.get(pk=gone.pk).deleted_at is not None


def test_queryset_delete_soft_deletes_every_row():
    Widget.objects.create(name="a")
    Widget.objects.create(name="b")
    count, per_model = Widget.objects.all().delete()
    assert count == 2 and per_model == {"testapp.Widget": 2}
    assert Widget.objects.count() == 0
    assert Widget.all_objects.count() == 2


def test_hard_delete_is_explicit():
    widget = Widget.objects.create(name="a")
    widget.hard_delete()
    assert not Widget.all_objects.filter(pk=widget.pk).exists()


def test_restore_brings_a_row_back_and_records_who_deleted():
    user = UserFactory()

    class Request:
        pass

    request = Request()
    request.user = user
    token = current_request.set(request)
    try:
        widget = Widget.objects.create(name="a")
        widget.delete()
    finally:
        current_request.reset(token)
    widget.refresh_from_db()
    assert widget.deleted_by == user
    widget.restore()
    assert Widget.objects.filter(pk=widget.pk).exists()
    widget.refresh_from_db()
    assert widget.deleted_at is None and widget.deleted_by is None


def test_deleted_name_can_be_reused_but_live_names_stay_unique():
    old = Widget.objects.create(name="pump")
    old.delete()
    Widget.objects.create(name="pump")
    with pytest.raises(IntegrityError), transaction.atomic():
        Widget.objects.create(name="pump")
    # Restoring the old row would make two live "pump" rows: refused.
    with pytest.raises(Conflict, match="Cannot restore"):
        old.restore()


def test_save_never_revives_a_deleted_row():
    widget = Widget.objects.create(name="a")
    stale_copy = Widget.objects.get(pk=widget.pk)
    widget.delete()
    stale_copy.size = 5
    with pytest.raises(StaleVersionError), transaction.atomic():
        stale_copy.save()
    assert Widget.all_objects.get(pk=widget.pk).deleted_at is not None


def test_plain_save_does_not_write_lifecycle_fields():
    widget = Widget.objects.create(name="a")
    widget.delete()
    fresh = Widget.all_objects.get(pk=widget.pk)
    fresh.deleted_at = None  # a careless edit must not undelete
    fresh.size = 3
    fresh.save()
    reloaded = Widget.all_objects.get(pk=widget.pk)
    assert reloaded.size == 3 and reloaded.deleted_at is not None


def test_every_save_increments_version_and_stale_copies_are_refused():
    widget = Widget.objects.create(name="a")
    assert widget.version == 1
    other = Widget.objects.get(pk=widget.pk)
    widget.size = 2
    widget.save()
    assert widget.version == 2
    other.size = 9
    with pytest.raises(StaleVersionError), transaction.atomic():
        other.save()
    assert other.version == 1  # left as read, so the caller can reload
    assert Widget.objects.get(pk=widget.pk).size == 2


def test_history_records_each_change():
    widget = Widget.objects.create(name="a")
    widget.size = 2
    widget.save()
    widget.delete()
    history = list(widget.history.order_by("history_date").values_list("history_type", "size", "version"))
    assert history == [("+", 1, 1), ("~", 2, 2), ("~", 2, 3)]


# --- every soft-deletable model ---------------------------------------------------------------


def soft_deletable_models():
    return [model for model in apps.get_models() if issubclass(model, SoftDeleteModel)]


def test_every_soft_deletable_model_shares_the_soft_delete_queryset_managers_and_meta():
    models = soft_deletable_models()
    assert {Widget, Carrier, Load, Service} <= set(models)
    for model in models:
        for manager in (model.objects, model.all_objects, model._base_manager):
            assert isinstance(manager.all(), SoftDeleteQuerySet), (model, manager)
        assert model._meta.base_manager_name == "all_objects", model
        assert str(model.objects.all().query).count("deleted_at") >= 1, f"{model} objects shows deleted rows"


@pytest.mark.parametrize(
    "make",
    [
        lambda n: Widget.objects.create(name=f"w{n}"),
        lambda n: CarrierFactory(),
        lambda n: LoadFactory(),
        lambda n: ServiceFactory(),
    ],
    ids=["widget", "carrier", "load", "service"],
)
def test_bulk_delete_only_marks_rows(make):
    rows = [make(n) for n in range(3)]
    model = type(rows[0])
    # select_related makes an outer join, on which PostgreSQL refuses a plain FOR UPDATE.
    relation = next((f.name for f in model._meta.concrete_fields if f.is_relation and f.null), None)
    queryset = model.objects.filter(pk__in=[row.pk for row in rows[:2]]).select_related(relation)
    count, per_model = queryset.delete()
    assert count == 2 and per_model == {model._meta.label: 2}
    assert model.all_objects.count() == 3  # nothing removed
    assert set(model.objects.values_list("pk", flat=True)) == {rows[2].pk}
    assert all(row.deleted_at is not None for row in model.all_objects.filter(pk__in=[r.pk for r in rows[:2]]))
    assert model.all_objects.filter(pk__in=[r.pk for r in rows[:2]]).restore() == 2
    assert model.objects.count() == 3
