"""The running app survives losing Redis: token-authenticated reads and writes, sign-in and
readiness keep answering while the cache is unreachable, and the cache is used again, without a
restart, once Redis is back.

gunicorn runs the production settings with CACHE_URL pointing at a TCP proxy opened by the test
in front of the real Redis (its own database number); closing the proxy cuts every connection
and refuses new ones. The Celery broker is the real Redis, directly.

"Fast" is the client's own timeout: a request not answered within REQUEST_TIMEOUT fails the test
as a hang. Nothing sleeps: the test waits on the server's listening socket and on the proxy
seeing the app connect again.
"""

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from knox.models import AuthToken

from accounts import roles
from tests.carriers.factories import CarrierFactory, LoadFactory
from tests.factories import UserFactory
from tests.servers import REDIS, Gunicorn, TcpProxy, production_env, redis_db

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor == "sqlite", reason="needs a database server the processes share"),
]

CACHE_DB = 9
BROKER_DB = 10
# A lost Redis must add well under a second (CACHE_SOCKET_TIMEOUT, 0.25 s by default, paid at most
# once per back-off window); the rest of the bound is a margin for a loaded machine.
REQUEST_TIMEOUT = 2.0
PASSWORD = "correct horse battery staple"


@pytest.fixture
def redis_cache_db():
    client = redis_db(CACHE_DB)
    yield client
    client.flushdb()


@pytest.fixture
def proxy(redis_cache_db):
    proxy = TcpProxy(REDIS)
    proxy.open()
    yield proxy
    proxy.close()


@pytest.fixture
def server(proxy, tmp_path):
    env = production_env(
        cache_url=f"redis://127.0.0.1:{proxy.port}/{CACHE_DB}",
        broker_url=f"redis://{REDIS[0]}:{REDIS[1]}/{BROKER_DB}",
    )
    with Gunicorn(env, tmp_path / "server.log") as server, server.client() as client:
        client.log = server.log
        yield client


def _answer(client, method, path, **kwargs):
    """The answer to a request made while Redis is unreachable; fails the test if the server
    holds it past REQUEST_TIMEOUT instead of answering without the cache."""
    try:
        return client.request(method, path, timeout=REQUEST_TIMEOUT, **kwargs)
    except httpx.TimeoutException:
        pytest.fail(f"{method} {path} got no answer within {REQUEST_TIMEOUT:g} s while Redis was unreachable")


def _call(external_id):
    return {
        "external_id": external_id,
        "mc_number": "MC-123456",
        "load_id": "L-20001",
        "started_at": "2026-11-21T15:04:00Z",
        "duration_seconds": 312,
        "outcome": "booked",
        "sentiment": "positive",
        "summary": "Logged while Redis was unreachable.",
    }


def test_losing_redis_costs_no_request_and_the_cache_resumes_by_itself(server, proxy, redis_cache_db):
    user = UserFactory(roles=[roles.ADMIN])
    # Hashed as production checks it (the test settings hash with MD5, which production refuses).
    hasher = PBKDF2PasswordHasher()
    type(user).objects.filter(pk=user.pk).update(password=hasher.encode(PASSWORD, hasher.salt(), iterations=1000))
    _, token = AuthToken.objects.create(user=user)
    auth = {"Authorization": f"Token {token}"}
    LoadFactory(load_id="L-20001")
    CarrierFactory(mc_number="123456")

    ready = server.get("/health/ready/", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"]["cache"]["status"] == "ok", ready.text
    assert server.get("/api/v1/loads/", headers=auth, timeout=10).status_code == 200
    assert redis_cache_db.dbsize() > 0  # the token's identity, its last use, the throttle

    proxy.close()

    for attempt in range(3):  # the first pays the client timeout, the next skip Redis
        response = _answer(server, "GET", "/api/v1/loads/", headers=auth)
        assert response.status_code == 200, (attempt, response.text)
        response = _answer(server, "POST", "/api/v1/calls/", headers=auth, json=_call(f"vc-outage-{attempt}"))
        assert response.status_code == 201, (attempt, response.text)
    response = _answer(server, "GET", "/api/v1/auth/me/", headers=auth)
    assert response.status_code == 200, response.text
    response = _answer(server, "POST", "/api/v1/auth/login/", json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.text

    ready = _answer(server, "GET", "/health/ready/")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["checks"]["cache"]["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"
    assert (body["status"], body["degraded"]) == ("degraded", ["cache"])
    assert "The Redis cache is unreachable" in server.log.read_text()

    redis_cache_db.flushdb()  # what the app writes from here on shows it uses Redis again
    proxy.open()

    # The readiness check tries Redis whatever the back-off window, and its success ends the
    # outage for every thread of the worker.
    ready = server.get("/health/ready/", timeout=10)
    assert proxy.forwarded.wait(timeout=10), "the app did not reconnect after Redis came back"
    assert ready.status_code == 200 and ready.json()["checks"]["cache"]["status"] == "ok", ready.text
    assert server.get("/api/v1/loads/", headers=auth, timeout=10).status_code == 200
    assert redis_cache_db.dbsize() > 0
    assert "The Redis cache is reachable again" in server.log.read_text()
