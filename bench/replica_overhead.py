"""What routing reads to a replica costs the load search per request, in CPU, in one process.

Two child processes serve the same search through Django's WSGI handler (every middleware, DRF, the token, the
throttle), on production settings with the Redis cache, against the benchmark database:

* ``primary``: no DATABASE_REPLICA_URLS (the router and ``core.db``'s middleware are not installed);
* ``replica``: DATABASE_REPLICA_URLS names the same database, so the replica path runs in full (the health
  checker, the replica chosen per request, the client's write position looked up, the execute wrappers and
  counters) while both read the same rows from the same server.

Each child times REQUESTS searches with ``time.process_time()`` after a warm-up, over ROUNDS rounds that
alternate which child goes first, and prints the median CPU microseconds per request; the report is the ratio
replica/primary (1.00: the replica path costs nothing). ``PROFILE=1`` prints each child's top functions by
cumulative time instead (cProfile).

    DSN=postgres://postgres@127.0.0.1:5432/perf_loads PERF_TOKEN=$(cat /tmp/perf/agent_token) \\
        .venv/bin/python bench/replica_overhead.py

Needs the database of ``make bench`` (bench/peers.sh builds it) and Redis on CACHE_URL."""

import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERY = os.environ.get("QUERY", "origin_state=IL&equipment_type=reefer&status=available&page_size=20")


def child(mode: str) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/v1/loads/",
        "QUERY_STRING": QUERY,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Token {os.environ['PERF_TOKEN']}",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": None,
    }

    def search():
        import io

        body = []
        response = handler(dict(environ, **{"wsgi.input": io.BytesIO()}), lambda status, headers: body.append(status))
        payload = b"".join(response)
        if not body[0].startswith("200"):
            raise SystemExit(f"{mode}: {body[0]} {payload[:300]!r}")
        return payload

    for _ in range(int(os.environ.get("WARMUP", "300"))):
        search()
    if mode == "replica":
        from core.db import replicas

        # The checker thread probes at start; wait for its first answer so the replica is in use.
        deadline = time.monotonic() + 30
        while not replicas.usable("replica1"):
            if time.monotonic() > deadline:
                raise SystemExit("the replica was never found usable")
            time.sleep(0.05)
        search()
    requests = int(os.environ.get("REQUESTS", "2000"))
    if os.environ.get("PROFILE"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            search()
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats(os.environ.get("PROFILE_SORT", "tottime"))
        stats.print_stats(os.environ.get("PROFILE_FILTER", ""), int(os.environ.get("PROFILE_LINES", "35")))
    started = time.process_time()
    for _ in range(requests):
        search()
    elapsed = time.process_time() - started
    if mode == "replica":
        from core.metrics import DB_READS

        reads = {sample.labels["database"]: sample.value for sample in DB_READS.collect()[0].samples}
        if not reads.get("replica1"):
            raise SystemExit(f"the searches did not read from the replica: {reads}")
    print(json.dumps({"mode": mode, "us_per_request": elapsed / requests * 1e6}))


def run(mode: str) -> float:
    dsn = os.environ["DSN"]
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", secrets.token_urlsafe(60)),
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DATABASE_URL=dsn,
        CACHE_URL=os.environ.get("CACHE_URL", "redis://127.0.0.1:6379/1"),
        CELERY_BROKER_URL=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/2"),
        THROTTLE_USER_RATE="100000/s",
        DATABASE_REPLICA_URLS=dsn if mode == "replica" else "",
    )
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    if out.returncode:
        raise SystemExit(out.stderr[-3000:] or out.stdout)
    if os.environ.get("PROFILE"):
        print(f"== {mode} ==\n{out.stderr[-12000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["us_per_request"]


def main() -> None:
    figures = {"primary": [], "replica": []}
    for number in range(int(os.environ.get("ROUNDS", "4"))):
        order = ("primary", "replica") if number % 2 == 0 else ("replica", "primary")
        for mode in order:
            figures[mode].append(run(mode))
        print(f"round {number + 1}: " + ", ".join(f"{m} {figures[m][-1]:.0f} us" for m in figures), flush=True)
    primary, replica = (statistics.median(figures[m]) for m in ("primary", "replica"))
    print(
        f"median CPU per search: primary {primary:.0f} us, replica path {replica:.0f} us, ratio {replica / primary:.3f}"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        main()
