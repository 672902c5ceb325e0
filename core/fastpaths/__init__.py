"""The platform's speed work that leans on framework internals, in one place.

Everything here makes a stock path faster without changing what it answers, and each module
says which private APIs it touches; tests/core/test_fastpaths_guards.py holds every one of them,
so a library upgrade fails loudly there. Views and serializers stay stock DRF: selectors and
services call these, and nothing outside ``core.fastpaths`` reaches into a framework's internals
for speed.

* ``prepared``: SQL compiled once per query shape and kept prepared on PostgreSQL (the load
  search and detail, the write paths' reads by key);
* ``filters``: django-filter's FilterSet without its per-request deep copies;
* ``history``: simple_history's manager class built once;
* ``cache``: one Redis client per pool, and an atomic counter in one round trip;
* ``rows``: a file's rows checked by a serializer's own fields in a tight loop (imports).

Why each is worth it, measured: docs/architecture.md ("Speed work") and bench/RESULTS.md.
"""
