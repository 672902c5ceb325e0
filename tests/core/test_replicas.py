"""Read replicas with a real PostgreSQL streaming replica: searches read the replica, a client reads its own
writes at once while other clients may lag, and losing the replica costs no request.

The test builds its own cluster in a temporary directory: a primary (``initdb``, ``wal_level=replica``) and a
hot standby made from it by ``pg_basebackup -R``, on free ports, run as the ``postgres`` user when the suite
runs as root. It migrates the primary (``manage.py migrate``, production settings), creates two managers with
tokens and a load through the test factories (``manage.py shell``), then starts the app as production runs
it, gunicorn with production settings and Redis, with ``DATABASE_URL`` at the primary and
``DATABASE_REPLICA_URLS`` at the standby. Which database served a read is told by the app's own
``db_reads_total`` metric and, decisively, by answers only the standby would give: while its replay is paused
(``pg_wal_replay_pause()``) it lacks a load the primary has.

Nothing sleeps: PostgreSQL is waited for by ``pg_ctl -w``, gunicorn on its listening socket, and each
condition (the standby in use, replay paused, the write replayed) by asking again until it holds or a
deadline passes; every request has a client timeout.
"""

import json
import re
import sys

import pytest
from django.conf import settings
from django.db import connection

from tests.carriers.factories import load_payload
from tests.servers import (
    HAS_PG_SERVER,
    PG_BIN,
    Gunicorn,
    production_env,
    redis_db,
    run,
    streaming_pair,
    wait_for,
)

CACHE_DB, BROKER_DB = 13, 14  # this test's own Redis databases, flushed before and after
REDIS_CACHE_URL = f"redis://127.0.0.1:6379/{CACHE_DB}"
REDIS_BROKER_URL = f"redis://127.0.0.1:6379/{BROKER_DB}"
ANSWER_TIMEOUT = 30  # seconds for one request on a loaded machine (a lost replica may cost a pool timeout)
METRICS_TOKEN = "replica-test-metrics-token"

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="read replicas are PostgreSQL streaming replicas"),
    pytest.mark.skipif(
        not HAS_PG_SERVER,
        reason=f"needs PostgreSQL 15's initdb, pg_basebackup and pg_ctl in {PG_BIN} (apt-get install postgresql-15)",
    ),
]


@pytest.fixture
def cluster():
    with streaming_pair() as (primary, replica):
        yield primary, replica


def _env(**extra):
    return production_env(cache_url=REDIS_CACHE_URL, broker_url=REDIS_BROKER_URL, **extra)


SETUP = """
import json
from knox.models import AuthToken
from accounts import roles
from tests.carriers.factories import LoadFactory
from tests.factories import UserFactory
tokens = {}
for name in ("writer", "reader"):
    _, tokens[name] = AuthToken.objects.create(user=UserFactory(username=f"replica-{name}", roles=[roles.MANAGER]))
LoadFactory(load_id="L-80001")
print(json.dumps(tokens))
"""


@pytest.fixture
def redis_dbs():
    clients = [redis_db(CACHE_DB), redis_db(BROKER_DB)]
    yield
    for client in clients:
        client.flushdb()


@pytest.fixture
def app(cluster, redis_dbs, tmp_path):
    primary, replica = cluster
    manage = [sys.executable, "manage.py"]
    run([*manage, "migrate", "--noinput"], cwd=settings.BASE_DIR, env=_env(database=primary.url))
    output = run([*manage, "shell", "-c", SETUP], cwd=settings.BASE_DIR, env=_env(database=primary.url))
    tokens = json.loads(output.stdout.strip().splitlines()[-1])
    env = _env(
        database=primary.url,
        DATABASE_REPLICA_URLS=replica.url,
        DB_CONNECT_TIMEOUT=2,
        DB_POOL_TIMEOUT=3,
        # The checker probes often, so the test waits little for it.
        DB_REPLICA_CHECK_SECONDS=0.5,
        # While replay is paused the standby counts as lagging from the last transaction it replayed; the
        # test must not depend on how long ago that was, so lag never takes it out of service here.
        DB_REPLICA_MAX_LAG_SECONDS=3600,
        METRICS_TOKEN=METRICS_TOKEN,
    )
    with Gunicorn(env, tmp_path / "server.log") as server, server.client(timeout=ANSWER_TIMEOUT) as client:
        client.log = server.log
        client.writer = {"Authorization": f"Token {tokens['writer']}"}
        client.reader = {"Authorization": f"Token {tokens['reader']}"}
        yield client, primary, replica


def _reads(client) -> dict[str, float]:
    """db_reads_total by database, from the app's /metrics."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    return {
        match[1]: float(match[2])
        for match in re.finditer(r'^db_reads_total\{database="([^"]+)"\} (\S+)$', response.text, re.MULTILINE)
    }


def _search_ids(client, headers):
    response = client.get("/api/v1/loads/", headers=headers)
    assert response.status_code == 200, response.text
    return {row["load_id"] for row in response.json()["results"]}


def test_searches_read_the_replica_writers_read_their_writes_and_losing_it_costs_no_request(app):
    client, primary, replica = app

    # Searches reach the standby once the process's checker has found it well (its first probe, just after
    # the first request).
    def search_read_the_replica():
        before = _reads(client).get("replica1", 0)
        assert _search_ids(client, client.reader) == {"L-80001"}
        return _reads(client).get("replica1", 0) > before

    wait_for(search_read_the_replica, "a search read the replica")
    before = _reads(client)
    for _ in range(3):
        assert _search_ids(client, client.reader) == {"L-80001"}
    after = _reads(client)
    assert after["replica1"] >= before["replica1"] + 3  # every search, on the standby
    assert after.get("default", 0) == before.get("default", 0), "a search read the primary"

    # Replay paused: the standby stops applying what the primary sends.
    replica.query("SELECT pg_wal_replay_pause()")
    wait_for(lambda: replica.query("SELECT pg_get_wal_replay_pause_state()") == [("paused",)], "replay paused")

    response = client.post("/api/v1/loads/", headers=client.writer, json=load_payload("L-80002"))
    assert response.status_code == 201, response.text
    assert primary.query("SELECT count(*) FROM carriers_load WHERE load_id = 'L-80002'") == [(1,)]
    assert replica.query("SELECT count(*) FROM carriers_load WHERE load_id = 'L-80002'") == [(0,)]

    # The writer reads its write, from the primary, while the standby lacks it...
    response = client.get("/api/v1/loads/L-80002/", headers=client.writer)
    assert response.status_code == 200, response.text
    assert _search_ids(client, client.writer) == {"L-80001", "L-80002"}
    # ...and another client, reading the standby, does not see it yet.
    assert client.get("/api/v1/loads/L-80002/", headers=client.reader).status_code == 404
    assert _search_ids(client, client.reader) == {"L-80001"}

    # Replay resumed: the other client sees the write once the standby has applied it.
    replica.query("SELECT pg_wal_replay_resume()")
    wait_for(
        lambda: client.get("/api/v1/loads/L-80002/", headers=client.reader).status_code == 200,
        "the other client sees the write after replay resumed",
    )
    # The standby has the writer's write now, so the writer reads it there too.
    before = _reads(client)
    assert _search_ids(client, client.writer) == {"L-80001", "L-80002"}
    after = _reads(client)
    assert after["replica1"] > before["replica1"]
    assert after.get("default", 0) == before.get("default", 0)

    # The standby dies: reads keep answering, from the primary.
    replica.stop("immediate")
    for _ in range(3):
        assert _search_ids(client, client.reader) == {"L-80001", "L-80002"}
        response = client.get("/api/v1/loads/L-80001/", headers=client.writer)
        assert response.status_code == 200, response.text
    before = _reads(client)
    assert _search_ids(client, client.reader) == {"L-80001", "L-80002"}
    after = _reads(client)
    assert after.get("default", 0) > before.get("default", 0)
    assert after["replica1"] == before["replica1"]
    assert "The read replica replica1 is out of service" in client.log.read_text()
    ready = client.get("/health/ready/")
    assert ready.status_code == 200, ready.text  # the primary serves: degraded, not down
    assert (ready.json()["status"], ready.json()["degraded"]) == ("degraded", ["replicas"])
    assert ready.json()["checks"]["replicas"]["replicas"]["replica1"]["status"] == "down"
