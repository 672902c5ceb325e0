"""The running app survives a PostgreSQL outage: fast 503s with the JSON error body while
the database is unreachable, and recovery without a restart when it is back.

A TCP proxy opened by the test stands between a gunicorn server (its own process, the production
settings, Redis for the cache and the broker) and the real PostgreSQL; closing the proxy cuts every
connection and refuses new ones.

"Fast" is the client's own timeout: a request the server does not answer within the pool
timeout plus a margin fails the test as a hang. Nothing sleeps: the test waits on the
server's listening socket and on the proxy seeing the app connect again.
"""

import httpx
import pytest
from django.db import connection
from knox.models import AuthToken

from accounts import roles
from tests.factories import UserFactory
from tests.servers import Gunicorn, TcpProxy, database_address, database_url, production_env, redis_db

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor == "sqlite", reason="needs a database server the processes share"),
]

POOL_TIMEOUT = 3  # seconds the server waits for a database connection (DB_POOL_TIMEOUT)
# How long a client waits for the answer during the outage: the pool timeout plus a margin
# for a loaded machine. A server that holds requests longer fails the test as a timeout.
OUTAGE_ANSWER_TIMEOUT = POOL_TIMEOUT + 3.0
RECONNECT_TIMEOUT = 60  # seconds for the pool to reconnect (its retries back off up to ~16 s here)


HTTPS = {"X-Forwarded-Proto": "https"}  # as the TLS-terminating proxy in front of production says
BROKER_DB = 11  # Redis databases of this test's own
CACHE_DB = 12


@pytest.fixture
def proxy():
    proxy = TcpProxy(database_address())
    proxy.open()
    yield proxy
    proxy.close()


@pytest.fixture
def server(proxy, tmp_path):
    redis_db(CACHE_DB), redis_db(BROKER_DB)
    env = production_env(
        database=database_url(port=proxy.port),
        cache_url=f"redis://127.0.0.1:6379/{CACHE_DB}",
        broker_url=f"redis://127.0.0.1:6379/{BROKER_DB}",
        DB_POOL_TIMEOUT=POOL_TIMEOUT,
        DB_CONNECT_TIMEOUT=2,
        DJANGO_LOG_LEVEL="CRITICAL",
    )
    with Gunicorn(env, tmp_path / "server.log") as server:
        yield server.url


def _during_outage(method, url, **kwargs):
    """The answer to a request made while the database is unreachable; fails the test if the
    server holds the request past the pool timeout (plus a margin) instead of answering."""
    try:
        headers = {**HTTPS, **kwargs.pop("headers", {})}
        return httpx.request(method, url, timeout=OUTAGE_ANSWER_TIMEOUT, headers=headers, **kwargs)
    except httpx.TimeoutException:
        pytest.fail(
            f"{method} {url} got no answer within {OUTAGE_ANSWER_TIMEOUT:g} s while the database was down: "
            f"the server holds requests instead of answering 503 after the {POOL_TIMEOUT} s pool timeout"
        )


def test_database_outage_gives_fast_503s_and_the_app_recovers_by_itself(server, proxy):
    _, token = AuthToken.objects.create(user=UserFactory(roles=[roles.ADMIN]))
    auth = {"Authorization": f"Token {token}", **HTTPS}
    assert httpx.get(f"{server}/health/ready/", timeout=10, headers=HTTPS).status_code == 200
    assert httpx.get(f"{server}/api/v1/loads/", headers=auth, timeout=10).status_code == 200

    proxy.close()

    ready = _during_outage("GET", f"{server}/health/ready/")
    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "failing"
    assert "database" in body["failing"]
    for method, path in (
        ("GET", "/api/v1/loads/"),
        ("POST", "/api/v1/registry/services/"),
        ("GET", "/api/v1/auth/me/"),
    ):
        response = _during_outage(method, f"{server}{path}", headers=auth, json={"name": "x"})
        assert response.status_code == 503, (method, path, response.status_code, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["code"] == "database_unavailable"
        assert response.headers["Retry-After"]

    proxy.open()

    # The connection pool retries in the background; once it has connected through the proxy
    # again, requests are served without a restart (a request waits up to the pool timeout
    # for that connection to finish its handshake). MySQL/MariaDB have no pool: there the next request
    # connects (persistent connections are checked before reuse, and a broken one replaced).
    if connection.vendor == "mysql":
        httpx.get(f"{server}/health/ready/", timeout=10, headers=HTTPS)
    assert proxy.forwarded.wait(timeout=RECONNECT_TIMEOUT), "the app did not reconnect after the database came back"
    assert httpx.get(f"{server}/api/v1/loads/", headers=auth, timeout=30).status_code == 200
    ready = httpx.get(f"{server}/health/ready/", timeout=10, headers=HTTPS)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"]["status"] == "ok"
