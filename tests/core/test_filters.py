"""core.api.filters.FilterSet: filter forms clean only what the query string gives, and filter
exactly as django-filter's FilterSet does."""

import django_filters
import pytest
from django import forms
from django.http import QueryDict

from core.api.filters import FilterSet
from tests.core.testapp.models import Widget

pytestmark = pytest.mark.django_db

cleaned = []


class CountingCharField(forms.CharField):
    def clean(self, value):
        cleaned.append(value)
        return super().clean(value)


class CountingFilter(django_filters.CharFilter):
    field_class = CountingCharField


class WidgetFilter(FilterSet):
    name = CountingFilter(field_name="name")
    size = django_filters.NumberFilter()
    size_range = django_filters.RangeFilter(field_name="size")
    small = django_filters.BooleanFilter(field_name="size", lookup_expr="lt", method="filter_small")

    class Meta:
        model = Widget
        fields = ("name", "size", "size_range", "small")

    def filter_small(self, queryset, name, value):
        return queryset.filter(size__lt=5) if value else queryset.filter(size__gte=5)


class PlainWidgetFilter(django_filters.FilterSet):
    size = django_filters.NumberFilter()
    size_range = django_filters.RangeFilter(field_name="size")
    small = django_filters.BooleanFilter(field_name="size", lookup_expr="lt", method="filter_small")

    class Meta:
        model = Widget
        fields = ("size", "size_range", "small")

    filter_small = WidgetFilter.filter_small


@pytest.fixture
def widgets():
    return [Widget.objects.create(name=f"w{size}", size=size) for size in (1, 3, 5, 8, 13)]


def run(filterset_class, query):
    filterset = filterset_class(QueryDict(query), queryset=Widget.objects.all())
    assert filterset.is_valid(), filterset.errors
    return sorted(widget.name for widget in filterset.qs)


def test_absent_filters_are_not_cleaned():
    cleaned.clear()
    assert WidgetFilter(QueryDict("size=3"), queryset=Widget.objects.all()).is_valid()
    assert cleaned == []
    filterset = WidgetFilter(QueryDict("name=w3"), queryset=Widget.objects.all())
    assert filterset.is_valid()
    assert cleaned == ["w3"]
    assert set(filterset.form.cleaned_data) == {"name"}


def test_a_range_given_by_one_bound_is_cleaned_and_applied(widgets):
    filterset = WidgetFilter(QueryDict("size_range_min=4"), queryset=Widget.objects.all())
    assert filterset.is_valid()
    assert "size_range" in filterset.form.cleaned_data
    assert run(WidgetFilter, "size_range_min=4") == ["w13", "w5", "w8"]


@pytest.mark.parametrize(
    "query",
    ["", "size=5", "size_range_min=2&size_range_max=8", "small=true", "small=false", "small=", "size=&small=true"],
)
def test_the_same_rows_as_django_filter(widgets, query):
    assert run(WidgetFilter, query) == run(PlainWidgetFilter, query)


def test_a_bad_value_is_still_refused_by_field():
    filterset = WidgetFilter(QueryDict("size=many&size_range_max=x"), queryset=Widget.objects.all())
    assert not filterset.is_valid()
    assert set(filterset.errors) == {"size", "size_range"}


def test_the_form_still_shows_every_filter():
    filterset = WidgetFilter(QueryDict("size=3"), queryset=Widget.objects.all())
    assert filterset.is_valid()
    html = filterset.form.as_p()
    for name in ("name", "size", "size_range_min", "small"):
        assert f'name="{name}"' in html
