"""Webhook delivery throughput: events per second from commit to a local receiver's 2xx.

    .venv/bin/python bench/webhook_delivery.py [--events 2000] [--concurrency 2] [--endpoints 1] [--close]

Production settings throughout: PostgreSQL (a database of its own, ``webhook_bench``, made anew and dropped
after), Redis (broker database 6, cache database 7) and a Celery worker (``celery -A config worker``, prefork,
``--concurrency`` processes) doing the deliveries, as production runs them. The receiver is a threaded HTTP server in
this process answering 204 at once, over HTTP/1.1 keeping connections alive as real receivers do (``--close``: HTTP/1.0,
a new connection per delivery, the worst case for the sender); the endpoints point at it (``OUTBOUND_ALLOWED_NETWORKS=127.0.0.1/32``, the
outbound guard still runs on every request).

``--events`` events are published in one transaction (``events.services.publish_many``, as an import does); the
clock starts at the commit (the sequencer numbers them and plans one delivery per event per endpoint right after)
and stops when the receiver has had every delivery once. It prints the deliveries per second and each delivery's
time from commit to receipt (p50/p95), and checks each request's Standard Webhooks signature. The machine is shared
and noisy: run it twice.
"""

import argparse
import base64
import hashlib
import hmac
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
DATABASE = "webhook_bench"
BROKER = "redis://127.0.0.1:6379/6"
CACHE = "redis://127.0.0.1:6379/7"


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, expected: int):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.expected = expected
        self.received: dict[str, float] = {}  # webhook-id + endpoint → first receipt (monotonic)
        self.bodies: list[tuple[str, dict, bytes]] = []
        self.lock = threading.Lock()
        self.done = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; main() sets HTTP/1.0 with --close

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        now = time.monotonic()
        server = self.server
        key = (self.headers["webhook-id"], self.path)
        with server.lock:
            server.received.setdefault(key, now)
            if len(server.bodies) < 50:
                server.bodies.append((self.path, dict(self.headers), body))
            if len(server.received) >= server.expected:
                server.done.set()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def verify(secret: str, headers: dict, body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(sig.split(",", 1)[1] == expected for sig in headers["webhook-signature"].split())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--endpoints", type=int, default=1)
    parser.add_argument("--close", action="store_true", help="the receiver closes the connection after each answer")
    args = parser.parse_args()
    if args.close:
        _Handler.protocol_version = "HTTP/1.0"

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "CACHE_", "CELERY_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"{PG}/{DATABASE}",
        "CACHE_URL": CACHE,
        "CELERY_BROKER_URL": BROKER,
        "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32",
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    subprocess.run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"], check=True)
    subprocess.run(["psql", f"{PG}/postgres", "-qc", f"CREATE DATABASE {DATABASE}"], check=True)
    subprocess.run(["redis-cli", "-n", "6", "FLUSHDB"], check=True, capture_output=True)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from core.models import RuntimeSetting
    from events import endpoint_services
    from events.models import Delivery, DeliveryStatus
    from events.services import publish_many

    receiver = Receiver(expected=args.events * args.endpoints)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    owner = get_user_model().objects.create_superuser("bench", password=None)
    endpoints = [
        endpoint_services.endpoint_create(
            owner=owner, url=f"http://127.0.0.1:{receiver.server_port}/hook/{n}", event_types=["load.posted"]
        )
        for n in range(args.endpoints)
    ]
    worker = subprocess.Popen(
        [python, "-m", "celery", "-A", "config", "worker", f"--concurrency={args.concurrency}", "--loglevel=WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        thing = RuntimeSetting.objects.create(key="bench.webhooks", value=1)
        items = ((thing, {"load_id": f"L-{n}"}) for n in range(args.events))
        committed = [0.0]
        with transaction.atomic():
            # Registered first, so it runs first after the commit: before the sequencer plans and queues.
            transaction.on_commit(lambda: committed.__setitem__(0, time.monotonic()))
            publish_many("load.posted", items=items)
        if not receiver.done.wait(timeout=600):
            raise SystemExit(f"only {len(receiver.received)} of {receiver.expected} deliveries arrived in 600 s")
        start = committed[0]
        times = sorted(at - start for at in receiver.received.values())
        elapsed = times[-1]
        secrets_by_path = {f"/hook/{n}": endpoint.secret for n, endpoint in enumerate(endpoints)}
        checked = [verify(secrets_by_path[path], headers, body) for path, headers, body in receiver.bodies]
        pending = Delivery.objects.exclude(status=DeliveryStatus.SUCCEEDED).count()
        print(
            f"{len(times)} deliveries ({args.events} events x {args.endpoints} endpoint(s)), "
            f"{args.concurrency} worker process(es), receiver {_Handler.protocol_version}: "
            f"{len(times) / elapsed:.0f} deliveries/s; "
            f"commit to receipt p50 {statistics.median(times) * 1000:.0f} ms, "
            f"p95 {times[int(len(times) * 0.95) - 1] * 1000:.0f} ms; "
            f"{sum(checked)} of {len(checked)} sampled signatures verified; {pending} not marked succeeded yet"
        )
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)
        from django.db import connections

        connections.close_all()
        subprocess.run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"])


if __name__ == "__main__":
    main()
