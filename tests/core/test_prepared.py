"""core.fastpaths.prepared.first(): the row QuerySet.first() gives, read through SQL compiled once per shape.
(The load search's prepared pages are held equal to the ORM's in tests/carriers/test_load_list.py.)"""

import pytest
from django.db import transaction
from django.db.models import F, Q
from django.db.transaction import TransactionManagementError

from core.fastpaths import prepared
from core.fastpaths.prepared import PreparedQuery
from tests.core.testapp.models import Widget

pytestmark = pytest.mark.django_db


def same(a, b):
    return (
        a is None
        and b is None
        or (
            type(a) is type(b)
            and not a._state.adding
            and a._state.db == b._state.db
            and all(getattr(a, f.attname) == getattr(b, f.attname) for f in Widget._meta.concrete_fields)
        )
    )


@pytest.fixture
def widgets():
    made = [Widget.objects.create(name=name, size=size) for name, size in (("b", 2), ("a", 2), ("c", 7))]
    made[2].delete()  # soft-deleted: the live manager does not see it
    return made


@pytest.mark.parametrize(
    "lookups",
    [{"name": "a"}, {"size": 2}, {"size": 7}, {"name": "zz"}, {"name__iexact": "B"}, {"size__gte": 1}],
)
def test_first_is_the_querysets_first(widgets, lookups):
    for manager in (Widget.objects, Widget.all_objects):
        assert same(prepared.first(manager, **lookups), manager.filter(**lookups).first())
        assert same(prepared.first(manager, **lookups), manager.filter(**lookups).first())  # compiled before


def test_a_foreign_key_column_and_audit_fields_are_read(widgets, admin_user):
    widget = Widget.objects.create(name="owned", created_by=admin_user)
    found = prepared.first(Widget.objects, created_by_id=admin_user.pk)
    assert found.pk == widget.pk and found.created_by == admin_user
    found.size = 9
    found.save()  # an instance like any other
    assert Widget.objects.get(pk=widget.pk).size == 9


@pytest.mark.django_db(transaction=True)
def test_a_lock_needs_a_transaction(widgets):
    with pytest.raises(TransactionManagementError):
        prepared.first(Widget.objects, lock=True, name="a")
    with transaction.atomic():
        assert same(prepared.first(Widget.objects, lock=True, name="a"), Widget.objects.get(name="a"))


def test_bad_values_fail_as_the_orm_does(widgets):
    with pytest.raises(ValueError):
        prepared.first(Widget.objects, size="many")


def test_a_row_is_found_by_its_primary_key(widgets):
    assert same(prepared.first(Widget.objects, pk=widgets[0].pk), widgets[0])


@pytest.mark.parametrize(
    "lookups",
    [
        {"created_by": None},
        {"name__in": ["a", "b"]},
        {"size__range": (1, 3)},
        {"name__contains": "a"},
        {"created_by__username": "nobody"},
        {"size": F("size")},
    ],
)
def test_lookups_of_other_kinds_are_answered_by_the_orm_not_misread(widgets, lookups):
    for manager in (Widget.objects, Widget.all_objects):
        assert same(prepared.first(manager, **lookups), manager.filter(**lookups).first())


def query():
    return PreparedQuery(Widget, Widget.objects.all, key=("widgets",))


def test_it_goes_through_what_a_list_view_asks_as_the_queryset_would(widgets):
    assert [w.pk for w in query().all().filter(size=2).order_by("name")[:5]] == [widgets[1].pk, widgets[0].pk]
    assert query().get(name="b").pk == widgets[0].pk
    with pytest.raises(Widget.DoesNotExist):
        query().get(name="c")  # soft-deleted
    with pytest.raises(Widget.MultipleObjectsReturned):
        query().get(size=2)


def test_anything_else_is_the_orms_answer_over_what_was_asked_so_far(widgets):
    asked = query().filter(size=2)
    assert asked.count() == 2 and asked.exists()
    assert [w.name for w in asked.filter(Q(name="a") | Q(name="zz"))] == ["a"]
    assert [w.name for w in asked.exclude(name="a")] == ["b"]
    assert [w.name for w in asked.order_by(F("name").desc())] == ["b", "a"]
    assert [w.name for w in asked.order_by("name")[:1][:1]] == ["a"]
    assert list(query().filter(size=2).order_by("-name").values_list("name", flat=True)) == ["b", "a"]
