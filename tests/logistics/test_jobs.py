"""Background jobs: a real Celery worker against the local Redis, and the periodic schedules."""

import threading
from datetime import timedelta

import pytest
import redis
from celery.signals import task_postrun
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from knox.models import AuthToken

from accounts.tasks import purge_expired_tokens
from config.celery import app
from logistics import services
from logistics.choices import DecisionStatus
from logistics.models import Decision
from logistics.tasks import solve_decision
from registry.tasks import probe_services
from tests.factories import UserFactory
from tests.logistics.factories import CostModelFactory, HubFactory, OrderFactory, VehicleFactory
from tests.servers import reset_celery_connections

REDIS_URL = "redis://127.0.0.1:6379/2"


@pytest.fixture
def redis_broker():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_URL} is unreachable ({exc}); the real-worker test needs it.")
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=REDIS_URL, task_always_eager=False)
    reset_celery_connections()
    app.control.purge()
    yield
    app.conf.update(saved)
    reset_celery_connections()


@pytest.fixture
def solves_run():
    """An Event set once a worker has finished running a decision solve (whatever the
    outcome); ``.decision_ids`` lists the decisions solved. The worker of ``start_worker``
    runs in a thread of this process, so its task signals reach the test."""
    done = threading.Event()
    done.decision_ids = []

    def finished(sender=None, args=(), **kwargs):
        if getattr(sender, "name", None) == solve_decision.name:
            done.decision_ids.append(args[0] if args else None)
            done.set()

    task_postrun.connect(finished, weak=False)
    yield done
    task_postrun.disconnect(finished)


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_solves_a_queued_decision(redis_broker, solves_run):
    from celery.contrib.testing.worker import start_worker

    hub = HubFactory()
    CostModelFactory()
    OrderFactory(hub=hub, town="Nakuru")
    VehicleFactory(home_hub=hub)
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=10):
        decision = services.decision_create(time_limit_seconds=1)
        assert Decision.objects.get(pk=decision.pk).status == DecisionStatus.SOLVING  # queued, not run here
        assert solves_run.wait(timeout=60), "the worker did not run the queued solve"
        assert solves_run.decision_ids == [str(decision.pk)]
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PROPOSED, decision.failure_reason
    assert decision.orders_routed == 1


def test_periodic_jobs_are_scheduled_in_the_database(db):
    tasks = dict(PeriodicTask.objects.values_list("task", "enabled"))
    assert tasks["registry.check_services"] is True
    assert tasks["accounts.purge_expired_tokens"] is True
    probe = PeriodicTask.objects.get(task="registry.check_services")
    assert probe.interval.every == 5 and probe.interval.period == "minutes"
    assert {"events.assign_sequences", "events.prune", "carriers.announce_due_follow_ups"} <= set(tasks)
    # What a worker does at start: import every app's tasks module. Each scheduled job names a task it knows.
    app.loader.import_default_modules()
    assert set(tasks) <= set(app.tasks)


def test_token_purge_removes_only_expired_tokens(db):
    user = UserFactory()
    expired, _ = AuthToken.objects.create(user=user, expiry=timedelta(hours=1))
    AuthToken.objects.filter(pk=expired.pk).update(expiry=timezone.now() - timedelta(minutes=1))
    live, _ = AuthToken.objects.create(user=user, expiry=timedelta(hours=1))
    assert purge_expired_tokens.delay().get() == 1
    assert list(AuthToken.objects.values_list("pk", flat=True)) == [live.pk]


def test_registry_probe_job_runs_the_health_checks(db):
    from tests.registry.factories import ServiceFactory

    ServiceFactory(name="unreachable", health_check_url="http://127.0.0.1:9/health")
    result = probe_services.delay().get()
    assert result["checked"] == 1 and result["passing"] == 0
