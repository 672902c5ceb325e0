"""Micro-benchmarks of three ``core.fastpaths`` modules against the stock library behaviour.

Each pair runs the same work through the stock class and through ours, alternating which goes
first over several rounds; for each pair it prints the median microseconds per operation of
each variant and the ratio stock/fastpath (above 1: the fast path is faster). On a shared,
noisy machine read the ratios, not the absolute figures.

1. ``core.fastpaths.filters.FilterSet`` vs ``django_filters.FilterSet``: what
   ``DjangoFilterBackend`` does per request for the load search, i.e. build
   ``LoadFilter(data=QueryDict(...), queryset=Load.objects.all(), request=None)``, ``is_valid()``
   and ``.qs`` (the queryset is never evaluated). The stock twin is a class built on
   ``django_filters.FilterSet`` from copies of ``LoadFilter``'s declared filters and its Meta;
   both are first checked to give the same SQL (``str(qs.query)``) and the same errors for a few
   query strings.
2. ``core.fastpaths.history.HistoryManager`` vs ``simple_history.manager.HistoryManager``:
   ``from_queryset(HistoricalQuerySet)``, ``Load.history`` access (class and instance, through a
   ``HistoryDescriptor`` holding each manager class), and the history-entry write path
   (``HistoricalRecords.create_historical_record``, rolled back) when the database is the
   in-memory SQLite this script uses by default.
3. ``core.fastpaths.cache.RedisCache`` vs ``django.core.cache.backends.redis.RedisCache``: get
   (a hit), set and get_many (5 keys) of small values on ``BENCH_REDIS_URL`` (default
   redis://127.0.0.1:6379/3) under a key prefix of this script's own, deleted at the end. Skipped
   if Redis does not answer.

Run from the project root:

    DJANGO_SETTINGS_MODULE=config.settings.local .venv/bin/python bench/fastpaths_micro.py

Environment: ``ROUNDS`` (default 5), ``CACHE_OPS`` (operations per variant per round for the cache,
default 20000), ``BENCH_REDIS_URL``. ``DATABASE_URL`` is optional: unset, the script uses an
in-memory SQLite database (no file is touched; no query runs for 1 and 2 but the history write,
whose one table it creates in memory). With any other database the write is skipped.
"""

import copy
import inspect
import os
import statistics
import sys
import time
import weakref
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")

import django

django.setup()

import django_filters  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models.signals import post_save  # noqa: E402
from django.http import QueryDict  # noqa: E402
from django.utils import timezone  # noqa: E402
from simple_history.manager import HistoryDescriptor  # noqa: E402
from simple_history.manager import HistoryManager as SimpleHistoryManager  # noqa: E402
from simple_history.models import HistoricalRecords  # noqa: E402

from carriers.api.filters import LoadFilter  # noqa: E402
from carriers.models import Load  # noqa: E402
from core.fastpaths.cache import RedisCache as FastRedisCache  # noqa: E402
from core.fastpaths.history import HistoryManager as FastHistoryManager  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
CACHE_OPS = int(os.environ.get("CACHE_OPS", "20000"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
LOAD_SEARCH = "origin_state=IL&equipment_type=reefer&status=available&page_size=20"


def per_op_us(func, number, ops_per_call=1):
    """Microseconds per operation over ``number`` calls of ``func`` (garbage collection left on)."""
    started = time.perf_counter()
    for _ in range(number):
        func()
    return (time.perf_counter() - started) * 1e6 / (number * ops_per_call)


def compare(label, stock, fast, number, *, ops_per_call=1, rounds=ROUNDS):
    """Time ``stock`` and ``fast`` alternately (who goes first alternates too) and print the median
    microseconds per operation of each and their ratio."""
    stock(), fast()  # warm up: caches the fast path builds once are built here
    samples = {"stock": [], "fast": []}
    for round_ in range(rounds):
        order = (("stock", stock), ("fast", fast)) if round_ % 2 == 0 else (("fast", fast), ("stock", stock))
        for name, func in order:
            samples[name].append(per_op_us(func, number, ops_per_call))
    stock_us, fast_us = statistics.median(samples["stock"]), statistics.median(samples["fast"])
    print(
        f"  {label:<44} stock {stock_us:9.2f} us   fastpath {fast_us:9.2f} us   stock/fastpath {stock_us / fast_us:5.2f}x"
    )
    return stock_us, fast_us


# --- 1. FilterSet ------------------------------------------------------------------------


def stock_twin(filterset_class):
    """``filterset_class``'s declared filters and Meta on ``django_filters.FilterSet`` itself, with
    the methods its filters name (``method="filter_x"``)."""
    attrs = {name: copy.deepcopy(filter_) for name, filter_ in filterset_class.declared_filters.items()}
    for filter_ in filterset_class.declared_filters.values():
        if isinstance(filter_.method, str):
            attrs[filter_.method] = getattr(filterset_class, filter_.method)
    attrs["Meta"] = filterset_class.Meta
    return type(f"Stock{filterset_class.__name__}", (django_filters.FilterSet,), attrs)


def filter_outcome(filterset_class, query_string):
    filterset = filterset_class(data=QueryDict(query_string), queryset=Load.objects.all(), request=None)
    if not filterset.is_valid():
        return "errors", filterset.errors.get_json_data()
    return "sql", str(filterset.qs.query)


def bench_filters():
    print("1. FilterSet (LoadFilter: construct, is_valid(), .qs unevaluated)")
    StockLoadFilter = stock_twin(LoadFilter)
    assert django_filters.FilterSet in StockLoadFilter.__mro__ and LoadFilter.__mro__[1] is not django_filters.FilterSet
    for query_string in (
        LOAD_SEARCH,
        "",
        "origin_city=Chicago&destination_state=tx&min_rate=1000&max_weight=40000",
        "pickup_from=2026-05-01T08:00:00-05:00&pickup_to=2026-05-03T00:00:00Z&equipment_type=Dry Van",
        "destination_city=Dallas&status=booked&origin_state=il",
        "origin_state=ZZ&min_rate=abc",
    ):
        stock, fast = filter_outcome(StockLoadFilter, query_string), filter_outcome(LoadFilter, query_string)
        assert stock == fast, (query_string, stock, fast)
    print("  same SQL / errors for 6 query strings: ok")
    data = QueryDict(LOAD_SEARCH)  # DRF's request.query_params, parsed once per request before the backend

    def run(filterset_class):
        def request():
            filterset = filterset_class(data=data, queryset=Load.objects.all(), request=None)
            if not filterset.is_valid():
                raise AssertionError(filterset.errors)
            return filterset.qs

        return request

    compare("load search filterset, per request", run(StockLoadFilter), run(LoadFilter), number=2000)


# --- 2. HistoryManager -------------------------------------------------------------------


def historical_records():
    """The ``HistoricalRecords`` whose ``post_save`` writes ``Load``'s history entries."""
    for entry in post_save.receivers:
        receiver = entry[1]
        if isinstance(receiver, weakref.ReferenceType):  # weak receivers (WeakMethod included)
            receiver = receiver()
        owner = getattr(receiver, "__self__", None)
        if isinstance(owner, HistoricalRecords) and entry[0][1] == id(Load):
            return owner
    raise LookupError("no HistoricalRecords post_save receiver for Load")


def bench_history():
    print("2. HistoryManager (simple_history's, built on every access, vs built once)")
    fast_descriptor = inspect.getattr_static(Load, "history")
    assert isinstance(fast_descriptor, HistoryDescriptor) and fast_descriptor.manager_class is FastHistoryManager
    queryset_class = fast_descriptor.queryset_class
    stock_descriptor = HistoryDescriptor(fast_descriptor.model, manager=SimpleHistoryManager, queryset=queryset_class)
    compare(
        "from_queryset(HistoricalQuerySet)",
        lambda: SimpleHistoryManager.from_queryset(queryset_class),
        lambda: FastHistoryManager.from_queryset(queryset_class),
        number=5000,
    )
    compare(
        "Load.history (class access)",
        lambda: stock_descriptor.__get__(None, Load),
        lambda: fast_descriptor.__get__(None, Load),
        number=5000,
    )
    now = timezone.now()
    load = Load(
        load_id="L-BENCH",
        origin_city="Chicago",
        origin_state="IL",
        destination_city="Dallas",
        destination_state="TX",
        pickup_datetime=now,
        delivery_datetime=now + timezone.timedelta(days=1),
        equipment_type="reefer",
        loadboard_rate=1500,
        weight=30000,
    )
    compare(
        "load.history (instance access)",
        lambda: stock_descriptor.__get__(load, Load),
        lambda: fast_descriptor.__get__(load, Load),
        number=5000,
    )
    if connection.vendor != "sqlite" or connection.settings_dict["NAME"] != ":memory:":
        print("  history entry write: skipped (runs only on the default in-memory SQLite)")
        return
    records = historical_records()
    with connection.schema_editor() as editor:
        # The history table and the users its keys point at (SQLite wants a key's table to exist
        # even for NULL); the Load itself is never saved.
        editor.create_model(get_user_model())
        editor.create_model(fast_descriptor.model)

    def write(descriptor):
        # create_historical_record reaches the manager through getattr(instance, "history").
        def batch():
            Load.history = descriptor
            try:
                with transaction.atomic():
                    for _ in range(500):
                        records.create_historical_record(load, "~")
                    transaction.set_rollback(True)
            finally:
                Load.history = fast_descriptor

        return batch

    compare(
        "history entry write (per entry, rolled back)",
        write(stock_descriptor),
        write(fast_descriptor),
        number=4,
        ops_per_call=500,
    )


# --- 3. RedisCache -----------------------------------------------------------------------


def bench_cache():
    print(f"3. RedisCache ({REDIS_URL}, {CACHE_OPS} ops per variant per round)")
    params = {"KEY_PREFIX": f"bench-fastpaths-micro-{os.getpid()}", "TIMEOUT": 300}
    stock_cache, fast_cache = DjangoRedisCache(REDIS_URL, dict(params)), FastRedisCache(REDIS_URL, dict(params))
    try:
        stock_cache.set("ping", 1)
    except Exception as exc:  # any connection error: no Redis to measure
        print(f"  skipped: Redis not reachable ({exc.__class__.__name__}: {exc})")
        return
    keys = [f"k{i}" for i in range(5)]
    value = {"user_id": 42, "permissions": ["carriers.view_load"], "ok": True}
    stock_cache.set_many(dict.fromkeys(keys, value))
    try:
        compare("get (hit)", lambda: stock_cache.get("k0"), lambda: fast_cache.get("k0"), number=CACHE_OPS)
        compare(
            "set", lambda: stock_cache.set("k-set", value), lambda: fast_cache.set("k-set", value), number=CACHE_OPS
        )
        compare(
            "get_many (5 keys)", lambda: stock_cache.get_many(keys), lambda: fast_cache.get_many(keys), number=CACHE_OPS
        )
    finally:
        stock_cache.delete_many([*keys, "k-set", "ping"])
        stock_cache.close()
        fast_cache.close()


def main():
    print(
        f"django {django.__version__}, django-filter {django_filters.__version__}, rounds {ROUNDS}, "
        f"database {connection.vendor} {connection.settings_dict['NAME']}"
    )
    bench_filters()
    bench_history()
    bench_cache()


if __name__ == "__main__":
    main()
