"""State that must hold across workers lives in the shared cache (Redis in production).

Two real processes, each started with the production settings and the same CACHE_URL,
play two gunicorn workers: what one of them changes, the other sees.
"""

import json
import os
import queue
import subprocess
import sys
import threading

import pytest
from django.conf import settings

from tests.factories import UserFactory
from tests.servers import database_url

REDIS_URL = "redis://127.0.0.1:6379/1"
ANSWER_TIMEOUT = 60  # seconds: a generous bound for one command (the first includes start-up)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.cluster]


def _redis_or_skip():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return client


class Worker:
    def __init__(self, env):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.core.shared_state_worker"],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        # A thread hands over each line the worker writes, so a worker that hangs fails the
        # test on ANSWER_TIMEOUT instead of blocking it for ever; "" marks the end of its output.
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put("")

    def ask(self, op, **args):
        self.process.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.process.stdin.flush()
        try:
            line = self.lines.get(timeout=ANSWER_TIMEOUT)
        except queue.Empty:
            pytest.fail(f"worker did not answer {op} within {ANSWER_TIMEOUT} s")
        assert line, f"worker died answering {op}"
        return json.loads(line)["result"]

    def stop(self):
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_client():
    return _redis_or_skip()


@pytest.fixture(scope="module")
def worker_pair(redis_client, django_db_setup, django_db_blocker):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CACHE_URL"))}
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "shared-state-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DB_POOL_ENABLED": "false",
        "CACHE_URL": REDIS_URL,
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/2",
        "FMCSA_CIRCUIT_FAILURES": "2",
        "FMCSA_CIRCUIT_RESET_SECONDS": "60",
        "THROTTLE_LOGIN_RATE": "3/min",
        "DJANGO_LOG_LEVEL": "ERROR",
    }
    with django_db_blocker.unblock():
        env["DATABASE_URL"] = database_url()
    pair = (Worker(env), Worker(env))
    yield pair
    for worker in pair:
        worker.stop()


@pytest.fixture
def workers(worker_pair, redis_client):
    redis_client.flushdb()
    yield worker_pair
    redis_client.flushdb()


def test_circuit_opened_by_one_worker_is_open_in_the_other(workers):
    one, other = workers
    assert other.ask("circuit_open") is False
    assert one.ask("circuit_fail") is False
    assert other.ask("circuit_fail") is True  # failures counted across workers open it
    assert one.ask("circuit_open") is True


def test_runtime_setting_changed_through_one_worker_is_seen_by_the_other_at_once(workers):
    one, other = workers
    default = other.ask("runtime_get", key="NEGOTIATION_MAX_ROUNDS")
    assert default == settings.NEGOTIATION_MAX_ROUNDS  # now cached for every worker
    assert one.ask("runtime_set", key="NEGOTIATION_MAX_ROUNDS", value=default + 2) is True
    # ``runtime_set`` answers once the change has committed and cleared the shared cache, so
    # the other worker's very next read has it; the documented upper bound
    # (RUNTIME_SETTINGS_CACHE_SECONDS) applies only if an invalidation is lost.
    assert other.ask("runtime_get", key="NEGOTIATION_MAX_ROUNDS") == default + 2, (
        "the other worker still sees the old value"
    )


def test_login_throttle_is_shared_by_the_workers(workers):
    UserFactory(username="agent")
    one, other = workers
    assert [one.ask("login", username="agent", password="wrong") for _ in range(2)] == [400, 400]
    assert other.ask("login", username="agent", password="wrong") == 400
    assert other.ask("login", username="agent", password="wrong") == 429
    assert one.ask("login", username="agent", password="wrong") == 429
