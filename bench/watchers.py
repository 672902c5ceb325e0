"""500 watchers against the ASGI server while the API serves the load search through gunicorn (bench/RESULTS.md,
"Watchers").

    .venv/bin/python bench/watchers.py [--watchers 500] [--seconds 20] [--events 20] [--mode poll|stream]

The production layout on one machine, production settings throughout: gunicorn (``config.wsgi``,
``gunicorn.conf.py``, 2 workers × 4 threads as compose runs it) for the API, gunicorn with uvicorn workers
(``config.asgi``, docker/entrypoint.sh ``events``, 2 workers) for ``/api/v1/events/``, PostgreSQL (a database of its
own, ``events_watch_bench``, made anew) and Redis (database 5, the events channel of its own).

Phases, each ``--seconds`` long, the API load the same in each (``GET /api/v1/loads/?origin_state=IL&page_size=20``
at ``--rate`` requests a second from ``--clients`` threads in a process of their own: an open loop well below what
the machine can serve, so the p95 measures the watchers' cost, not a queue the load itself builds):
  1. the API alone;
  2. the API with ``--watchers`` watchers held open: long polls (``wait=55``; each asks again when answered) or, with
     ``--mode stream``, Server-Sent Events streams;
  3. the same while an event is committed every second in another process: every watcher is woken each time, and
     the time from just before the commit to each watcher's answer is the wake-up latency;
  4. the API alone again (the machine drifts: the no-watcher p95 is the mean of 1 and 4).
The watchers run in a process of their own (one asyncio loop, aiohttp). The machine is shared: run it twice.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the publisher sets Django up in this process
DATABASE = "events_watch_bench"
PG = "postgres://postgres@127.0.0.1:5432"
REDIS_DB = 5
API_PORT, EVENTS_PORT = 8791, 8792
SEARCH = "/api/v1/loads/?origin_state=IL&page_size=20"

SETUP = """
import json
from decimal import Decimal
from knox.models import AuthToken
from accounts import roles
from carriers.models import Load
from tests.factories import UserFactory
from django.core.management import call_command
call_command("seed_demo", verbosity=0)
manager = UserFactory(username="bench-watchers", roles=[roles.MANAGER])
tokens = [AuthToken.objects.create(user=manager)[1] for _ in range(2)]
print(json.dumps({"tokens": tokens, "il": Load.objects.filter(origin_state="IL").count()}))
"""


def environment() -> dict:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CACHE_", "DB_"))}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "bench-watchers-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"{PG}/{DATABASE}",
        "CACHE_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "EVENTS_CHANNEL": f"freight:events:bench-{uuid.uuid4().hex[:8]}",
        "DJANGO_LOG_LEVEL": "WARNING",
        "THROTTLE_USER_RATE": "1000000/min",
        "PYTHONPATH": str(ROOT),
    }


def prepare(env) -> dict:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    out = subprocess.run([*manage, "shell", "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_servers(env, logs: Path):
    common = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"]
    with open(logs / "api.log", "wb") as api_log, open(logs / "events.log", "wb") as events_log:
        api = subprocess.Popen(
            [*common, "-b", f"127.0.0.1:{API_PORT}", "-w", "2", "--threads", "4", "config.wsgi"],
            cwd=ROOT,
            env=env,
            stdout=api_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        events = subprocess.Popen(
            [*common, "-b", f"127.0.0.1:{EVENTS_PORT}", "-w", "2", "-k", "uvicorn_worker.UvicornWorker"]
            + ["config.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=events_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    for port in (API_PORT, EVENTS_PORT):
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live/", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"server on {port} did not start; see {logs}")
            time.sleep(0.5)
    return [api, events]


HEADERS = {"X-Forwarded-Proto": "https"}


def api_load(token: str, clients: int, rate: float, seconds: float, queue):
    """In a process of its own: ``clients`` threads sending the search at ``rate`` requests a second in all (an
    open loop: a late answer does not slow the next request's schedule unless all clients are busy); latencies (ms)
    to ``queue``."""
    samples, errors = [], [0]
    stop = time.monotonic() + seconds
    interval = clients / rate

    def client(offset):
        headers = {**HEADERS, "Authorization": f"Token {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{API_PORT}", headers=headers, timeout=30) as http:
            http.get(SEARCH)
            due = time.monotonic() + offset
            while due < stop:
                time.sleep(max(0.0, due - time.monotonic()))
                due += interval
                started = time.perf_counter()
                response = http.get(SEARCH)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code == 200:
                    samples.append(elapsed)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=client, args=(n * interval / clients,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put({"samples": samples, "errors": errors[0]})


def watchers(token: str, count: int, mode: str, control, results):
    """In a process of its own: ``count`` watchers held on the ASGI server: long polls (``mode`` "poll"), each
    asking again when answered, or Server-Sent Events streams ("stream"). Puts ``("ready", n)`` once all are
    sent, then each event's arrival ``(time.time(), load_id)``; stops on ``"stop"``.

    aiohttp rather than httpx: with 500 connections in one loop, httpx's pool took a whole core and became the
    bottleneck (the servers used a sixth of one), so the wake-up latency measured the client."""
    import aiohttp

    async def main():
        headers = {**HEADERS, "Authorization": f"Token {token}"}
        answers, failures = [], [0]
        connector = aiohttp.TCPConnector(limit=count + 10)
        timeout = aiohttp.ClientTimeout(total=90)
        endless = aiohttp.ClientTimeout(total=None, sock_read=90)  # a stream: a keep-alive comes every 15 s
        base = f"http://127.0.0.1:{EVENTS_PORT}/api/v1/events/"
        async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as http:
            async with http.get(base) as response:
                cursor = (await response.json())["last_sequence"]
            stopping = asyncio.Event()

            async def watch(after):
                while not stopping.is_set():
                    try:
                        async with http.get(base, params={"after": after, "wait": 55}) as response:
                            body = await response.json() if response.status == 200 else None
                    except (aiohttp.ClientError, TimeoutError):
                        failures[0] += 1
                        continue
                    now = time.time()
                    if body is None:
                        failures[0] += 1
                        continue
                    for event in body["events"]:
                        answers.append((now, event["data"].get("load_id")))
                    after = body["last_sequence"]

            async def stream():
                while not stopping.is_set():
                    try:
                        async with http.get(
                            base + "stream/", headers={"Accept": "text/event-stream"}, timeout=endless
                        ) as response:
                            if response.status != 200:
                                failures[0] += 1
                                continue
                            async for line in response.content:
                                if line.startswith(b"data: "):
                                    answers.append((time.time(), json.loads(line[6:])["data"].get("load_id")))
                    except (aiohttp.ClientError, TimeoutError):
                        failures[0] += 1

            tasks = [asyncio.create_task(watch(cursor) if mode == "poll" else stream()) for _ in range(count)]
            results.put(("ready", count))
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, control.get)  # "stop"
            stopping.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        results.put(("answers", answers, failures[0]))

    asyncio.run(main())


def publisher(env, events: int, every: float):
    """Commit ``events`` changes, ``every`` seconds apart, in this process; returns {load_id: time before commit}."""
    os.environ.update(env)
    import django

    django.setup()
    from django.db import transaction

    from core.models import RuntimeSetting
    from events import services

    committed = {}
    for n in range(events):
        with transaction.atomic():
            thing, _ = RuntimeSetting.objects.get_or_create(key="bench.watchers", defaults={"value": 1})
            services.publish("load.posted", obj=thing, payload={"load_id": f"B-{n}"})
            committed[f"B-{n}"] = time.time()
        time.sleep(every)
    return committed


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def summary(label, samples):
    return (
        f"{label:<46} n={len(samples):>6}  p50 {percentile(samples, 50):7.1f} ms  "
        f"p95 {percentile(samples, 95):7.1f} ms  p99 {percentile(samples, 99):7.1f} ms"
    )


def run_api(token, clients, rate, seconds):
    queue = multiprocessing.Queue()
    process = multiprocessing.Process(target=api_load, args=(token, clients, rate, seconds, queue))
    process.start()
    result = queue.get(timeout=seconds + 120)
    process.join()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--watchers", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rate", type=float, default=60, help="API requests a second, in all")
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--mode", choices=["poll", "stream"], default="poll", help="long polls or SSE streams")
    args = parser.parse_args()
    multiprocessing.set_start_method("spawn")

    env = environment()
    logs = Path("/tmp") / f"bench-watchers-{os.getpid()}"
    logs.mkdir(exist_ok=True)
    setup = prepare(env)
    print(f"database {DATABASE}: {setup['il']} loads from IL; logs in {logs}")
    servers = start_servers(env, logs)
    api_token, watch_token = setup["tokens"]
    try:
        run_api(api_token, args.clients, args.rate, 5)  # warm both workers' pools and statements; not counted
        baseline = run_api(api_token, args.clients, args.rate, args.seconds)

        control, results = multiprocessing.Queue(), multiprocessing.Queue()
        held = multiprocessing.Process(target=watchers, args=(watch_token, args.watchers, args.mode, control, results))
        held.start()
        assert results.get(timeout=120)[0] == "ready"
        time.sleep(5)  # let every long poll reach the server and park
        idle = run_api(api_token, args.clients, args.rate, args.seconds)

        committed = {}
        every = args.seconds / args.events
        pub = threading.Thread(target=lambda: committed.update(publisher(env, args.events, every)))
        pub.start()
        woken = run_api(api_token, args.clients, args.rate, args.seconds)
        pub.join()
        time.sleep(3)  # the last wake-ups
        control.put("stop")
        _, answers, failures = results.get(timeout=120)
        held.join(timeout=60)
        after = run_api(
            api_token, args.clients, args.rate, args.seconds
        )  # no watchers again: how much the machine drifted
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=60)

    latencies = [(at - committed[load_id]) * 1000 for at, load_id in answers if load_id in committed]
    per_event = {load_id: sum(1 for _, got in answers if got == load_id) for load_id in committed}
    print(summary("API search, no watchers", baseline["samples"]))
    held_label = f"{args.watchers} {'long polls' if args.mode == 'poll' else 'streams'}"
    print(summary(f"API search, {held_label} held", idle["samples"]))
    print(summary(f"API search, {held_label} woken every {every:g} s", woken["samples"]))
    print(summary("API search, no watchers (again, after)", after["samples"]))
    base95 = (percentile(baseline["samples"], 95) + percentile(after["samples"], 95)) / 2
    print(
        f"p95 ratio to the mean no-watcher p95 ({base95:.1f} ms): held {percentile(idle['samples'], 95) / base95:.2f}×, "
        f"woken {percentile(woken['samples'], 95) / base95:.2f}×; "
        f"throughput {len(baseline['samples']) / args.seconds:.0f} → {len(idle['samples']) / args.seconds:.0f} → "
        f"{len(woken['samples']) / args.seconds:.0f} req/s; API errors {baseline['errors']}/{idle['errors']}/"
        f"{woken['errors']}"
    )
    print(summary("wake-up latency (commit → watcher's answer)", latencies))
    print(
        f"wake-ups: {len(latencies)} of {args.watchers * len(committed)} expected "
        f"(min per event {min(per_event.values(), default=0)}), max {max(latencies, default=float('nan')):.0f} ms, "
        f"over 1 s: {sum(1 for v in latencies if v > 1000)}; watcher request failures {failures}"
    )


if __name__ == "__main__":
    main()
