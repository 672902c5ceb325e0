"""The read-replica router's rules (core.db), without a real replica.

The rules that send a read to the primary are tested on their own, with the replicas' health set by hand and no
database. Those that send it to a replica run requests through the whole stack with ``replica_test``, an alias
this module adds that mirrors the test database: a separate connection to the same server, which is not in
recovery, so its replayed position is the primary's own and a client's write position is set by hand to one it
has not reached.
"""

import copy

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils.functional import SimpleLazyObject

from accounts import roles
from core.db import reads, replicas
from core.db.middleware import is_read
from core.db.router import ReplicaRouter
from tests.carriers.factories import LoadFactory, load_payload
from tests.factories import UserFactory

REPLICA = "replica_test"
ROUTER = "core.db.router.ReplicaRouter"
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="replicas are PostgreSQL streaming replicas"
)


@pytest.fixture(autouse=True)
def replica_settings(settings):
    settings.DB_REPLICA_ALIASES = [REPLICA]
    settings.DATABASE_ROUTERS = [ROUTER]
    settings.DB_REPLICA_MAX_LAG_SECONDS = 30
    settings.DB_REPLICA_CHECK_SECONDS = 0  # no checker thread: the tests set the replicas' health
    replicas.reset()
    yield
    replicas.reset()


@pytest.fixture(scope="module")
def replica_alias(django_db_setup, django_db_blocker):
    """``replica_test``: a second alias on the test database, as DATABASE_REPLICA_URLS would add one."""
    settings_dict = copy.deepcopy(connections["default"].settings_dict)
    settings_dict["TEST"] = {**settings_dict["TEST"], "MIRROR": "default"}
    connections.settings[REPLICA] = settings_dict
    yield REPLICA
    with django_db_blocker.unblock():
        connections[REPLICA].close()
        if getattr(connections[REPLICA], "pool", None) is not None:
            connections[REPLICA].close_pool()
    del connections[REPLICA]
    del connections.settings[REPLICA]


def _request(user=None):
    request = type("Request", (), {})()
    if user is not None:
        request.user = user
    return request


def _in_request(request):
    state = reads.RequestReads(request)
    return state, reads.current.set(state)


def _healthy(lag=0.0, position=10**12):
    replicas.observe(REPLICA, position=position, lag_seconds=lag)


# --- Rules that keep reads on the primary (no database) -------------------------------------


def test_outside_a_request_reads_go_to_the_primary():
    _healthy()
    assert ReplicaRouter().db_for_read(None) == "default"


def test_writes_and_migrations_are_the_primarys_and_relations_are_allowed():
    router = ReplicaRouter()
    assert router.db_for_write(None) == "default"
    assert router.allow_migrate("default", "carriers") is True
    assert router.allow_migrate(REPLICA, "carriers") is False
    assert router.allow_relation(object(), object()) is True


def test_a_read_inside_a_transaction_goes_to_the_primary():
    _healthy()
    state, token = _in_request(_request(AnonymousUser()))
    primary = connections["default"]
    try:
        primary.in_atomic_block = True  # as inside atomic() or select_for_update()
        assert ReplicaRouter().db_for_read(None) == "default"
        assert state.replica is None  # not decided for the request: outside the transaction it may change
    finally:
        primary.in_atomic_block = False
        reads.current.reset(token)


def test_after_a_write_the_rest_of_the_request_reads_the_primary():
    _healthy()
    state, token = _in_request(_request(AnonymousUser()))
    try:
        state.wrote = True
        assert ReplicaRouter().db_for_read(None) == "default"
    finally:
        reads.current.reset(token)


def test_until_the_user_is_known_reads_go_to_the_primary_and_the_choice_waits():
    _healthy()
    lazy = SimpleLazyObject(lambda: AnonymousUser())
    for request in (_request(), _request(lazy)):  # no user yet; a session user not resolved yet
        state, token = _in_request(request)
        try:
            assert ReplicaRouter().db_for_read(None) == "default"
            assert state.replica is None
        finally:
            reads.current.reset(token)


@pytest.mark.parametrize(
    "observation",
    [
        pytest.param(None, id="never-probed"),
        pytest.param("down", id="down"),
        pytest.param("lagging", id="lagging"),
        pytest.param("stale", id="not-probed-lately"),
    ],
)
def test_a_replica_not_known_well_gets_no_reads(observation, monkeypatch, settings):
    if observation == "down":
        _healthy()
        replicas.mark_down(REPLICA, "OperationalError")
    elif observation == "lagging":
        _healthy(lag=31.0)
    elif observation == "stale":
        settings.DB_REPLICA_CHECK_SECONDS = 5
        _healthy()
        later = replicas.time.monotonic() + replicas._stale_after() + 1
        monkeypatch.setattr(replicas.time, "monotonic", lambda: later)
    assert replicas.usable(REPLICA) is False
    state, token = _in_request(_request(AnonymousUser()))
    try:
        assert ReplicaRouter().db_for_read(None) == "default"
    finally:
        reads.current.reset(token)


def test_statements_that_count_as_writes():
    for sql in ("SELECT 1", '  select "x"', "SAVEPOINT s1", "RELEASE SAVEPOINT s1", "ROLLBACK TO SAVEPOINT s1"):
        assert is_read(sql), sql
    for sql in (
        "INSERT INTO t VALUES (1)",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
        "WITH x AS (DELETE FROM t) SELECT 1",
    ):
        assert not is_read(sql), sql


# --- Requests through the stack, with a replica alias on the test database ------------------


def _ran_on(alias, fragment):
    """A context that captures ``alias``'s queries; ``.saw()`` tells whether one named ``fragment``."""
    captured = CaptureQueriesContext(connections[alias])
    captured.saw = lambda: any(fragment in query["sql"] for query in captured.captured_queries)
    return captured


@on_postgresql
@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
def test_searches_read_the_replica_and_a_writer_reads_the_primary_until_the_replica_has_its_write(
    replica_alias, make_client
):
    cache.clear()
    assert replicas.probe(REPLICA).healthy
    manager = make_client(roles.MANAGER)
    LoadFactory(load_id="L-70001")

    with _ran_on(REPLICA, '"carriers_load"') as replica, _ran_on("default", '"carriers_load"') as primary:
        response = manager.get("/api/v1/loads/")
    assert response.status_code == 200
    assert [row["load_id"] for row in response.json()["results"]] == ["L-70001"]
    assert replica.saw() and not primary.saw(), "the search did not read the replica"

    response = manager.post("/api/v1/loads/", load_payload("L-70002"))
    assert response.status_code == 201, response.content
    written = cache.get(f"{reads.STICKY_KEY_PREFIX}user:{manager.user.pk}")
    assert written, "the write's position was not recorded for the client"

    # The replica has not replayed up to the write (a position it cannot have reached): the writer reads the primary.
    cache.set(f"{reads.STICKY_KEY_PREFIX}user:{manager.user.pk}", written + 10**12)
    with _ran_on(REPLICA, '"carriers_load"') as replica, _ran_on("default", '"carriers_load"') as primary:
        response = manager.get("/api/v1/loads/L-70002/")
    assert response.status_code == 200
    assert primary.saw() and not replica.saw(), "a client that wrote read a replica that lacks its write"

    # Another client is not held to it.
    other = make_client(roles.MANAGER)
    with _ran_on(REPLICA, '"carriers_load"') as replica:
        assert other.get("/api/v1/loads/L-70002/").status_code == 200
    assert replica.saw()

    # Once the replica has replayed the write, the writer reads it too.
    cache.set(f"{reads.STICKY_KEY_PREFIX}user:{manager.user.pk}", written)
    with _ran_on(REPLICA, '"carriers_load"') as replica, _ran_on("default", '"carriers_load"') as primary:
        response = manager.get("/api/v1/loads/L-70002/")
    assert response.status_code == 200
    assert replica.saw() and not primary.saw()


@on_postgresql
@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
def test_a_replica_that_cannot_be_reached_is_skipped_without_failing_the_request(replica_alias, make_client):
    cache.clear()
    _healthy(position=0)  # the probe last found it well
    client = make_client(roles.MANAGER)
    LoadFactory(load_id="L-70003")
    replica = connections[REPLICA]
    unreachable = {**replica.settings_dict, "PORT": _closed_port(), "OPTIONS": {"connect_timeout": 1}}
    saved = replica.settings_dict
    replica.close()
    replica.settings_dict = unreachable  # this thread's connection only; no pool for it
    try:
        response = client.get("/api/v1/loads/")
    finally:
        replica.settings_dict = saved
    assert response.status_code == 200, response.content
    assert [row["load_id"] for row in response.json()["results"]] == ["L-70003"]
    assert replicas.status(REPLICA).healthy is False


def _closed_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


@pytest.mark.django_db
def test_the_user_known_is_the_key_of_its_writes():
    user = UserFactory()
    request = _request(user)
    assert reads.client_keys(request) == [f"{reads.STICKY_KEY_PREFIX}user:{user.pk}"]
    assert reads.client_keys(_request(AnonymousUser())) == []
    assert reads.client_keys(_request()) is reads.UNKNOWN


@on_postgresql
@pytest.mark.django_db(transaction=True, databases=["default", REPLICA])
def test_check_replicas_reports_each_replica_and_a_down_one_degrades(replica_alias):
    result = replicas.check_replicas()
    assert result["status"] == "ok"
    assert result["replicas"][REPLICA]["status"] == "ok"
    assert result["replicas"][REPLICA]["lag_seconds"] == 0
    assert result["replicas"][REPLICA]["replayed_wal_bytes"] > 0
    assert replicas.usable(REPLICA)

    replica = connections[REPLICA]
    saved = replica.settings_dict
    replica.settings_dict = {**saved, "PORT": _closed_port(), "OPTIONS": {"connect_timeout": 1}}
    try:
        result = replicas.check_replicas()
    finally:
        replica.settings_dict = saved
    assert result == {"status": "degraded", "replicas": {REPLICA: {"status": "down", "error": "OperationalError"}}}
    assert not replicas.usable(REPLICA)
