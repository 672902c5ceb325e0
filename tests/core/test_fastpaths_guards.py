"""Guards on the private framework APIs the platform still touches, all in ``core.fastpaths``
(docs/architecture.md, "Speed work"). Each test names what a module relies on; a library upgrade
that changes it fails here, loudly, before a fast path silently misbehaves. The behaviour of each
fast path is held equal to the stock path by its own tests (test_prepared.py, test_load_list.py,
test_filters.py, test_api_rows.py, test_cache.py)."""

import inspect

import django_filters
import pytest
from django import forms
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.query import ModelIterable, ValuesIterable
from rest_framework import serializers
from simple_history.manager import HistoryManager as SimpleHistoryManager

from core.fastpaths.cache import RedisCache
from core.fastpaths.history import HistoryManager
from core.models import BaseModel
from tests.core.testapp.models import Widget


def parameters(func):
    return list(inspect.signature(func).parameters)


def test_optimistic_locking_overrides_no_private_save_step():
    # The version check is written with public APIs (BaseModel._save_versioned): nothing of
    # Model.save_base/_save_table/_do_update is overridden, so no upgrade can bypass it.
    for name in ("save_base", "_save_table", "_do_update", "_do_insert", "_save_parents"):
        assert getattr(BaseModel, name) is getattr(Model, name), name


def test_prepared_wraps_cursors_and_reads_the_compiler_as_it_expects():
    # core.fastpaths.prepared: a server-binding cursor wrapped as connection.cursor() wraps its own.
    assert parameters(BaseDatabaseWrapper._prepare_cursor) == ["self", "cursor"]
    if connection.vendor == "postgresql":
        from django.db.backends.postgresql.base import ServerBindingCursor

        assert parameters(ServerBindingCursor.execute)[:3] == ["self", "query", "params"]
    # It compiles a queryset itself and reads what the compiler selected.
    assert parameters(Widget.objects.all().query.get_compiler)[:2] == ["using", "connection"]
    compiler = Widget.objects.values("name", "created_by__username").query.get_compiler(using="default")
    sql, params = compiler.as_sql()
    assert isinstance(sql, str) and isinstance(params, tuple | list)
    assert compiler.col_count == len(compiler.select[: compiler.col_count]) == 2
    assert isinstance(compiler.get_converters([s[0] for s in compiler.select]), dict)
    query = Widget.objects.values("name").query
    assert list(query.values_select) == ["name"] and dict(query.annotation_select) == {}
    assert dict(query.extra_select) == {}
    instances = Widget.objects.all()
    assert instances._iterable_class is ModelIterable
    assert Widget.objects.values("name")._iterable_class is ValuesIterable
    compiler = instances.query.get_compiler(using="default")
    compiler.as_sql()
    assert compiler.klass_info["model"] is Widget


def test_filterset_replaces_base_filters_and_rebinds_method_proxies():
    # core.fastpaths.filters.FilterSet.__init__ hands django-filter's __init__ an empty
    # base_filters, then copies each filter and rebinds its ``_method`` proxy.
    assert isinstance(django_filters.FilterSet.base_filters, dict)
    filter_ = django_filters.CharFilter(method="filter_name")
    assert filter_._method == "filter_name"
    # Its filter_queryset is django-filter's loop without the QuerySet assertion: a new step in
    # django-filter's own must be looked at.
    names = set(django_filters.FilterSet.filter_queryset.__code__.co_names)
    assert names <= {
        "form",
        "cleaned_data",
        "items",
        "filters",
        "filter",
        "isinstance",
        "models",
        "QuerySet",
        "type",
        "__name__",
    }
    # _CleansGivenFields narrows Form._clean_fields to the given fields.
    assert parameters(forms.Form._clean_fields) == ["self"]
    # ... which walks self.fields (through _bound_items), so narrowing self.fields narrows it.
    assert "_bound_items" in forms.BaseForm._clean_fields.__code__.co_names
    assert "fields" in forms.BaseForm._bound_items.__code__.co_names


def test_history_manager_is_built_through_from_queryset():
    # core.fastpaths.history caches what simple_history builds on every access of Model.history.
    assert isinstance(inspect.getattr_static(SimpleHistoryManager, "from_queryset"), classmethod)
    assert type(Widget.history) is type(Widget.history)
    assert isinstance(Widget.history, HistoryManager)


@pytest.mark.parametrize("name", ["_get_connection_pool_index", "_get_connection_pool"])
def test_redis_cache_client_keeps_its_pool_methods(name):
    # core.fastpaths.cache reuses one redis client per pool of Django's RedisCacheClient.
    assert parameters(getattr(RedisCacheClient, name)) == ["self", "write"]


def test_redis_cache_builds_its_client_from_class_attributes():
    backend = RedisCache("redis://127.0.0.1:6379/3", {})
    assert isinstance(backend, DjangoRedisCache)
    assert backend._class is not RedisCacheClient and issubclass(backend._class, RedisCacheClient)
    assert isinstance(backend._cache, backend._class)
    assert hasattr(backend._cache, "_client")


def test_row_validator_reads_the_writable_fields():
    # core.fastpaths.rows walks DRF's own writable-field list.
    class Row(serializers.Serializer):
        name = serializers.CharField()
        shown = serializers.CharField(read_only=True)

    assert [field.field_name for field in Row()._writable_fields] == ["name"]
