"""The load search's SQL path against Django 5.2's documented PostgreSQL options.

The search runs its SQL compiled once per shape and kept prepared with a generic plan
(``core.fastpaths.prepared``). Django 5.2 documents its own ways to get part of that: ``OPTIONS``
``server_side_binding`` (bind on the server), psycopg's ``prepare_threshold`` (prepare a statement
after that many runs on a connection) and ``options="-c plan_cache_mode=..."``. This benchmark
serves the same search through the API (in process, Django's test client, a Sales agent) with:

* ``fastpath``: the platform's path;
* ``orm``: the stock ORM path (``carriers.selectors.load_row_queryset``, the fast path's twin: the
  same query, built and compiled by the ORM on every request);
* ``orm+binding``: the stock path with ``server_side_binding`` and ``prepare_threshold=2``;
* ``orm+binding+generic``: the same with ``plan_cache_mode=force_generic_plan`` for the connection.

Each variant runs in its own process (the options are per connection), round after round in
alternation so the machine's noise hits each alike; it prints each variant's median time per
request and its ratio to ``fastpath``. Run it on the ``make bench`` database (1,000,000 loads):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/perf_loads .venv/bin/python bench/search_paths.py

Env: ``ROUNDS`` (5), ``REQUESTS`` per round (1000), ``QUERY`` (the peers' search).
"""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERY = os.environ.get("QUERY", "origin_state=IL&equipment_type=reefer&status=available&page_size=20")
# (connection OPTIONS, whether the view reads through the fast path)
VARIANTS = {
    "fastpath": ({}, True),
    "orm": ({}, False),
    "orm+binding": ({"server_side_binding": True, "prepare_threshold": 2}, False),
    "orm+binding+generic": (
        {"server_side_binding": True, "prepare_threshold": 2, "options": "-c plan_cache_mode=force_generic_plan"},
        False,
    ),
}


def serve(variant: str, requests: int) -> None:
    """One round of one variant, in this process: prints its per-request times as JSON."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ.setdefault("THROTTLE_USER_RATE", "1000000/s")
    from django.conf import settings

    options, fast = VARIANTS[variant]
    settings.DEBUG = False  # no query log
    settings.DATABASES["default"].setdefault("OPTIONS", {}).update(options)
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from rest_framework.test import APIClient

    from accounts.models import User
    from carriers import selectors

    if not fast:  # the view reads through the fast path's ORM twin: the same rows, stock ORM
        selectors.load_rows = selectors.load_row_queryset

    user, _ = User.objects.get_or_create(username="bench-search-agent")
    user.groups.add(Group.objects.get(name="Sales agent"))
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.force_authenticate(user)
    url = f"/api/v1/loads/?{QUERY}"
    first = client.get(url)
    assert first.status_code == 200 and len(first.json()["results"]) > 0, first.content[:300]
    for _ in range(max(50, requests // 10)):  # warm: compiled shapes, prepared statements, pool
        client.get(url)
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(url)
        samples.append(time.perf_counter() - started)
    print(json.dumps({"median_ms": statistics.median(samples) * 1000, "mean_ms": statistics.mean(samples) * 1000}))


def main() -> None:
    rounds = int(os.environ.get("ROUNDS", 5))
    requests = int(os.environ.get("REQUESTS", 1000))
    results: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for round_ in range(1, rounds + 1):
        for name in VARIANTS:
            out = subprocess.run(
                [sys.executable, __file__, "--serve", name, str(requests)],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            ).stdout
            median = json.loads(out.strip().splitlines()[-1])["median_ms"]
            results[name].append(median)
            print(f"round {round_}  {name:<22} median {median:6.2f} ms/request", flush=True)
    base = statistics.median(results["fastpath"])
    print(f"\n{'variant':<22} {'median of rounds':>17} {'× fastpath':>11}")
    for name, medians in results.items():
        value = statistics.median(medians)
        print(f"{name:<22} {value:14.2f} ms {value / base:10.2f}×")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
