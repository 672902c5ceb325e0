"""The platform behind PgBouncer in transaction mode (DB_POOLER=pgbouncer).

PgBouncer gives each transaction whichever server connection is free, so nothing may outlive a
transaction on one: prepared statements, session settings, server-side cursors. The test starts
PgBouncer (installed by CI, skipped here when missing) in transaction mode in front of the test
database, with round-robin server connections so that a statement prepared on one is soon asked
of another, then starts the app as production runs it — gunicorn, production settings, Redis —
with DATABASE_URL through PgBouncer, and runs the sales desk's path: loads posted, searched many
times over, a carrier verified with (a stand-in for) FMCSA, an offer that books.

Without DB_POOLER the app finds the pooler on its own (``core.fastpaths.prepared._behind_pooler``):
nothing is prepared and a warning names DB_POOLER.

Nothing sleeps: PgBouncer is waited for on its "process up" line, gunicorn on its listening
socket (the test binds it), every request on the client's timeout.
"""

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken

from accounts import roles
from carriers.choices import LoadStatus
from carriers.models import Load
from tests.carriers.conftest import FakeQCMobile, docket_body, qc_carrier
from tests.core.test_settings import PRODUCTION_ENV, _run
from tests.factories import UserFactory
from tests.servers import Gunicorn, database_url, free_port, production_env, redis_db

PGBOUNCER = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")
CACHE_DB = 4
START_TIMEOUT = 60  # seconds for PgBouncer or gunicorn to come up and answer
ANSWER_TIMEOUT = 30  # seconds for one request on a loaded machine
SEARCHES = 24  # more than psycopg's prepare threshold on each of the app's connections
HTTPS = {"X-Forwarded-Proto": "https"}  # production redirects plain HTTP; the proxy says it was HTTPS

CLUSTER = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (PgBouncer pools PostgreSQL connections)"
    ),
    pytest.mark.skipif(PGBOUNCER is None, reason="no pgbouncer binary (CI installs it: apt-get install -y pgbouncer)"),
]


def cluster(test):
    """The marks of a test that starts PgBouncer and gunicorn."""
    for mark in reversed(CLUSTER):
        test = mark(test)
    return test


class PgBouncer:
    """PgBouncer in transaction mode on a free port, in front of the test database's server."""

    def __init__(self, db):
        self.port = free_port()
        # Its own directory, readable by the user it runs as (pgbouncer refuses to run as root).
        self.dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        self.dir.chmod(0o755)
        user = db["USER"] or "postgres"
        (self.dir / "users.txt").write_text(f'"{user}" ""\n')  # trust still needs the user listed
        (self.dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.dir / 'users.txt'}\n"
            "pool_mode = transaction\n"
            # Each transaction on the next server connection: a statement prepared on one is soon
            # run on another, as under real load.
            "server_round_robin = 1\n"
            "default_pool_size = 4\n"
            "max_client_conn = 100\n"
        )
        for path in self.dir.iterdir():
            path.chmod(0o644)
        command = [PGBOUNCER, str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            # setpriv execs pgbouncer in place, so terminating this process stops it.
            command = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", *command]
        self.process = subprocess.Popen(
            command, cwd=self.dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.log = []
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._wait_up()

    def _read(self):
        for line in self.process.stderr:  # drained to the end, so PgBouncer never blocks on its log
            self.log.append(line)
            self.lines.put(line)
        self.lines.put("")

    def _wait_up(self):
        while True:
            try:
                line = self.lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                self.stop()
                pytest.fail(f"pgbouncer did not start within {START_TIMEOUT} s:\n{''.join(self.log)}")
            if not line:
                self.process.wait(timeout=10)
                pytest.fail(f"pgbouncer exited ({self.process.returncode}):\n{''.join(self.log)}")
            if "process up" in line:
                return

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: immediate shutdown, server connections closed
            self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pgbouncer():
    bouncer = PgBouncer(connection.settings_dict)
    yield bouncer
    # Before pytest-django drops the test database, which PgBouncer's server connections would block.
    bouncer.stop()


@pytest.fixture
def fmcsa():
    server = FakeQCMobile()
    yield server
    server.close()


@pytest.fixture
def serve(pgbouncer, fmcsa, tmp_path):
    """``serve(**env)`` → ``(url, logs)``: gunicorn running production settings (and ``env``) with
    DATABASE_URL through PgBouncer; ``logs()`` → its JSON log records and all its output lines."""
    redis_db(CACHE_DB)
    started = []

    def _serve(**overrides):
        (tmp_path / "static").mkdir(exist_ok=True)
        env = production_env(
            database=database_url(port=pgbouncer.port),
            cache_url=f"redis://127.0.0.1:6379/{CACHE_DB}",
            broker_url="redis://127.0.0.1:6379/5",  # nothing on this path sends a job
            DJANGO_STATIC_ROOT=tmp_path / "static",
            FMCSA_BASE_URL=fmcsa.base_url,
            FMCSA_WEB_KEY="test-key",
            FMCSA_RETRIES=0,
            OUTBOUND_ALLOWED_NETWORKS="127.0.0.0/8",  # the FMCSA stand-in is on this machine
            **overrides,
        )
        server = Gunicorn(env, tmp_path / f"gunicorn-{len(started)}.log").start()
        started.append(server)

        def logs():
            lines = server.log.read_text().splitlines()
            return [json.loads(line) for line in lines if line.startswith("{")], lines

        return server.url, logs

    yield _serve
    for server in started:
        server.stop()


def _client(url, user_role):
    _, token = AuthToken.objects.create(user=UserFactory(roles=[user_role]))
    return httpx.Client(base_url=url, headers={"Authorization": f"Token {token}", **HTTPS}, timeout=ANSWER_TIMEOUT)


def _new_load(load_id):
    pickup = timezone.now() + timedelta(days=3)
    return {
        "load_id": load_id,
        "origin_city": "Chicago",
        "origin_state": "IL",
        "destination_city": "Dallas",
        "destination_state": "TX",
        "pickup_datetime": pickup.isoformat(),
        "delivery_datetime": (pickup + timedelta(hours=20)).isoformat(),
        "equipment_type": "dry_van",
        "loadboard_rate": "2300.00",
        "max_rate": "2500.00",
        "weight": 42000,
        "commodity_type": "Paper products",
        "miles": 925,
    }


def _search_many(agent):
    """The load search, SEARCHES times from four clients at once: the app's pooled connections
    each run it past psycopg's prepare threshold, on PgBouncer's rotating server connections."""

    def search(_):
        response = agent.get("/api/v1/loads/", params={"origin_state": "IL", "equipment_type": "dry_van"})
        return response.status_code, response.text

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(search, range(SEARCHES)))
    failed = [(status, text[:300]) for status, text in answers if status != 200]
    assert not failed, f"{len(failed)} of {SEARCHES} searches failed through PgBouncer: {failed[:3]}"
    return [json.loads(text) for _, text in answers]


@pytest.mark.parametrize(
    "pooler_env",
    [{"DB_POOLER": "pgbouncer"}, {"DB_PREPARE_HOT_QUERIES": "false"}],
    ids=["DB_POOLER=pgbouncer", "older-spelling-DB_PREPARE_HOT_QUERIES=false"],
)
@cluster
def test_the_sales_desk_runs_behind_pgbouncer_in_transaction_mode(serve, fmcsa, pooler_env):
    url, logs = serve(**pooler_env)
    with _client(url, roles.MANAGER) as manager, _client(url, roles.SALES_AGENT) as agent:
        for load_id in ("L-71001", "L-71002"):
            posted = manager.post("/api/v1/loads/", json=_new_load(load_id))
            assert posted.status_code == 201, posted.text

        for page in _search_many(agent):
            assert {row["load_id"] for row in page["results"]} == {"L-71001", "L-71002"}

        fmcsa.on("123456", "json", (200, docket_body(qc_carrier())))
        verified = agent.get("/api/v1/carriers/verify/MC-123456/")
        assert verified.status_code == 200, verified.text
        assert verified.json()["eligible"] is True

        offer = agent.post("/api/v1/loads/L-71001/offers/", json={"mc_number": "123456", "amount": "2300.00"})
        assert offer.status_code == 200, offer.text
        assert offer.json()["decision"] == "accept" and offer.json()["load_status"] == "booked"

        detail = agent.get("/api/v1/loads/L-71001/")
        assert detail.status_code == 200, detail.text
        assert detail.json()["status"] == "booked"
    assert Load.objects.get(load_id="L-71001").status == LoadStatus.BOOKED

    records, lines = logs()
    assert not [r for r in records if r.get("level") in ("ERROR", "CRITICAL")], lines
    # A declared pooler is not probed for: no warning about it.
    assert not [r for r in records if "DB_POOLER" in r.get("message", "")], lines


@cluster
def test_an_undeclared_pooler_is_found_and_nothing_is_prepared_through_it(serve):
    """With prepared statements on, some of these searches answer 500 ("prepared statement
    _pg3_0 does not exist"): that is what the detection spares a deployment that missed DB_POOLER."""
    url, logs = serve()  # the defaults: no DB_POOLER
    with _client(url, roles.MANAGER) as manager, _client(url, roles.SALES_AGENT) as agent:
        posted = manager.post("/api/v1/loads/", json=_new_load("L-72001"))
        assert posted.status_code == 201, posted.text
        for page in _search_many(agent):
            assert [row["load_id"] for row in page["results"]] == ["L-72001"]
        assert agent.get("/api/v1/loads/L-72001/").status_code == 200

    records, lines = logs()
    warnings = [r for r in records if "DB_POOLER" in r.get("message", "")]
    assert len(warnings) == 1, lines  # once per process, not per connection or request
    assert "DB_POOLER=pgbouncer" in warnings[0]["message"]


# The settings DB_POOLER sets, read under production settings (no database is reached).
SHOW_DATABASE_SETTINGS = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({"pooler": settings.DB_POOLER, "prepare": settings.DB_PREPARE_HOT_QUERIES,
    "server_side_cursors_off": db.get("DISABLE_SERVER_SIDE_CURSORS", False), "pool": "pool" in db["OPTIONS"]}))
"""


def _database_settings(**env):
    return _run([sys.executable, "-c", SHOW_DATABASE_SETTINGS], env={**PRODUCTION_ENV, **env})


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {"pooler": "", "prepare": True, "server_side_cursors_off": False, "pool": True}),
        (
            {"DB_POOLER": "pgbouncer"},
            {"pooler": "pgbouncer", "prepare": False, "server_side_cursors_off": True, "pool": True},
        ),
        (
            {"DB_PREPARE_HOT_QUERIES": "false"},
            {"pooler": "pgbouncer", "prepare": False, "server_side_cursors_off": True, "pool": True},
        ),
        (
            {"DB_POOLER": "pgbouncer", "DB_POOL_ENABLED": "false"},
            {"pooler": "pgbouncer", "prepare": False, "server_side_cursors_off": True, "pool": False},
        ),
    ],
    ids=["direct", "pgbouncer", "older-spelling", "pgbouncer-without-django-pool"],
)
def test_db_pooler_switches_off_what_transaction_pooling_cannot_follow(env, expected):
    result = _database_settings(**env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DB_POOLER": "pgpool"}, "DB_POOLER='pgpool' is not known"),
        ({"DB_POOLER": "pgbouncer", "DB_PREPARE_HOT_QUERIES": "true"}, "contradicts DB_POOLER=pgbouncer"),
    ],
)
def test_a_pooler_setting_that_cannot_be_right_refuses_to_start(env, message):
    result = _database_settings(**env)
    assert result.returncode != 0
    assert message in result.stderr
