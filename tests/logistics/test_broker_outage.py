"""Accepting a plan request never depends on the job broker: with Redis (the broker) unreachable the
request is answered as usual, the decision waits ``solving``, and the sweeper sends its solve once the
broker answers. Real brokers: a closed port, then this test's own Redis database."""

import logging
import socket
from datetime import timedelta

import pytest
import redis

from config.celery import app
from logistics import services
from logistics.choices import DecisionStatus
from logistics.models import Decision
from tests.logistics.conftest import BASE
from tests.servers import reset_celery_connections

BROKER = "redis://127.0.0.1:6379/15"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


def _use_broker(url):
    app.conf.update(broker_url=url, task_always_eager=False)
    reset_celery_connections()


@pytest.fixture
def broker_down():
    client = redis.Redis.from_url(BROKER, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    client.flushdb()
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager", "task_publish_retry_policy")}
    app.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0}
    _use_broker(f"redis://127.0.0.1:{_closed_port()}/0")
    yield client
    app.conf.update(saved)  # the suite's broker, eager again, as the rest of the suite runs its jobs
    reset_celery_connections()
    client.flushdb()


@pytest.mark.django_db(transaction=True)
def test_a_plan_request_is_accepted_while_the_broker_is_down_and_sent_once_it_answers(
    broker_down, dispatcher_client, pending_orders, fleet, caplog, settings
):
    with caplog.at_level(logging.WARNING, logger="logistics.services"):
        response = dispatcher_client.post(f"{BASE}/decisions/", {"decision_type": "daily_route_planning"})
    assert response.status_code in (201, 202), response.content
    decision = Decision.objects.get(pk=response.json()["id"])
    assert decision.status == DecisionStatus.SOLVING
    assert "the job broker did not answer" in caplog.text

    # Before DECISION_REQUEUE_SECONDS the sweeper leaves it to the message it may still have.
    services.decisions_fail_stuck(now=decision.created_at + timedelta(seconds=1))
    assert broker_down.llen("celery") == 0

    _use_broker(BROKER)  # the broker answers again
    services.decisions_fail_stuck(now=decision.created_at + timedelta(seconds=settings.DECISION_REQUEUE_SECONDS))
    assert broker_down.llen("celery") == 1  # the solve is queued for the workers
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.SOLVING  # waiting for a worker, not failed
