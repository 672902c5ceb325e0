"""A planning job survives its worker: a real Celery worker (its own process group, Redis
broker, the test database) is SIGKILLed while it solves a decision; another worker is started and
the decision leaves ``solving`` within the bound: the sweeper fails it, with the reason, once its
claim is older than 1.5 × its time limit + DECISION_STUCK_GRACE_SECONDS.

Nothing sleeps: the test waits on the workers' own log lines (ready, the claim, the sweeper's
verdict) with timeouts, and schedules the sweeper (as beat would) for the moment the decision
counts as stuck.
"""

import os
from datetime import timedelta

import pytest
import redis
from django.db import connection

from config.celery import app
from logistics import services
from logistics.choices import DecisionStatus
from logistics.models import Decision
from logistics.tasks import fail_stuck_decisions
from tests.logistics.factories import CostModelFactory, HubFactory, OrderFactory, VehicleFactory
from tests.servers import CeleryWorker as Worker
from tests.servers import database_url, reset_celery_connections

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor == "sqlite", reason="needs a database server the workers share"),
]

REDIS_URL = "redis://127.0.0.1:6379/9"  # this test's own database: flushed before and after
TIME_LIMIT = 6  # seconds the solver runs: the window in which the worker is killed mid-solve
GRACE = 1  # DECISION_STUCK_GRACE_SECONDS of the workers
START_TIMEOUT = 90  # seconds for a worker to boot (Django, Celery, PyVRP) on a loaded machine
# How long the decision may stay solving after the kill before the test fails: its bound
# (1.5 × TIME_LIMIT + GRACE after the claim) plus a second worker's boot and a margin.
LEAVE_SOLVING_TIMEOUT = 1.5 * TIME_LIMIT + GRACE + START_TIMEOUT


@pytest.fixture
def broker():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_URL} is unreachable ({exc}); the worker-death test needs it.")
    client.flushdb()
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False)
    reset_celery_connections()
    yield
    app.conf.update(saved)
    reset_celery_connections()
    client.flushdb()


@pytest.fixture
def start_worker(broker):
    db = connection.settings_dict
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "CACHE_URL", "CELERY_", "LOGISTICS_", "DECISION_"))
    }
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "worker-death-test-only-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "DATABASE_URL": database_url(),
        "CACHE_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "DECISION_STUCK_GRACE_SECONDS": str(GRACE),
        # Longer than the test: the killed worker's message is not redelivered during it, so what
        # moves the decision is the sweeper (a redelivery would find the claim live and do nothing).
        "CELERY_VISIBILITY_TIMEOUT_SECONDS": "600",
    }
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    workers = []

    def _start(name):
        worker = Worker(name, env)
        workers.append(worker)
        worker.wait_for(" ready.", START_TIMEOUT)
        return worker

    yield _start
    for worker in workers:
        worker.stop()


def test_a_decision_whose_worker_was_killed_mid_solve_leaves_solving(start_worker, settings):
    settings.DECISION_STUCK_GRACE_SECONDS = GRACE  # as the workers have it, for ``decision_stuck_after``
    hub = HubFactory()
    CostModelFactory()
    for town in ("Nakuru", "Eldoret", "Kitale", "Kisumu", "Naivasha"):
        OrderFactory(hub=hub, town=town)
    VehicleFactory(home_hub=hub)
    VehicleFactory(home_hub=hub)

    first = start_worker("first")
    decision = services.decision_create(time_limit_seconds=TIME_LIMIT)  # queued on commit, to Redis
    first.wait_for(f"decision {decision.pk}: solve attempt 1 claimed by first@", START_TIMEOUT)
    first.kill()  # mid-solve: the solver runs TIME_LIMIT seconds after the claim
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.SOLVING
    assert decision.solver_stats["claim"]["attempt"] == 1

    second = start_worker("second")
    # Beat's next tick after the decision counts as stuck; a tick before it would find nothing.
    stuck_after = services.decision_stuck_after(decision)
    fail_stuck_decisions.apply_async(eta=stuck_after + timedelta(seconds=1))
    second.wait_for(f"decision {decision.pk} failed: The worker running this job stopped", LEAVE_SOLVING_TIMEOUT)

    decision = Decision.objects.get(pk=decision.pk)
    assert decision.status == DecisionStatus.FAILED
    assert decision.failure_reason.startswith("The worker running this job stopped: attempt 1 started at ")
    assert "first@" in decision.failure_reason
    assert decision.plan == {} and decision.orders_routed == 0
