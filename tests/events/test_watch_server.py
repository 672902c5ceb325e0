"""The watch and the stream served as production serves them: the ASGI server (gunicorn with uvicorn workers,
``config.asgi``) on the production settings, woken through Redis pub/sub by a change committed in another process."""

import sys
import threading
import uuid

import pytest
from django.conf import settings
from django.db import connection
from knox.models import AuthToken

from accounts import roles
from tests.factories import UserFactory
from tests.servers import Gunicorn, production_env, redis_db, run

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor == "sqlite", reason="the servers share a database with the test: PostgreSQL"),
]

CACHE_DB, BROKER_DB = 15, 8  # this test's own Redis databases, flushed before and after
TIMEOUT = 10  # far below the watch's wait and the poll interval: only a wake-up answers within it

PUBLISH = """
from django.db import transaction
from core.models import RuntimeSetting
from events import services
with transaction.atomic():
    thing, _ = RuntimeSetting.objects.get_or_create(key="events.watch-server", defaults={"value": 1})
    services.publish("load.posted", obj=thing, payload={"load_id": "L-%s"})
"""


class AsgiServer(Gunicorn):
    """``gunicorn -k uvicorn_worker.UvicornWorker config.asgi`` (docker/entrypoint.sh ``events``) on a socket of
    the test's."""

    def command(self, fd: int) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "config.asgi:application", "-c", "gunicorn.conf.py"] + [
            "-k",
            "uvicorn_worker.UvicornWorker",
            "-b",
            f"fd://{fd}",
            "-w",
            str(self.workers),
        ]


@pytest.fixture
def server(tmp_path):
    clients = [redis_db(CACHE_DB), redis_db(BROKER_DB)]
    env = production_env(
        cache_url=f"redis://127.0.0.1:6379/{CACHE_DB}",
        broker_url=f"redis://127.0.0.1:6379/{BROKER_DB}",
        EVENTS_CHANNEL=f"freight:events:test-{uuid.uuid4().hex}",  # channels are server-wide, not per database
        EVENTS_POLL_SECONDS=600,
    )
    with AsgiServer(env, tmp_path / "asgi.log", workers=2) as asgi:
        asgi.env = env
        yield asgi
    for client in clients:
        client.flushdb()


def publish_elsewhere(server, n: int):
    """Commit a change with its event in a process of its own (``manage.py shell``, production settings)."""
    run([sys.executable, "manage.py", "shell", "-c", PUBLISH % n], cwd=settings.BASE_DIR, env=server.env)


def token_for(role) -> str:
    _, token = AuthToken.objects.create(user=UserFactory(roles=[role]))
    return token


def test_a_stream_is_woken_by_a_change_committed_in_another_process(server):
    token = token_for(roles.MANAGER)
    client = server.client(headers={"Authorization": f"Token {token}"}, timeout=TIMEOUT)
    with client, client.stream("GET", "/api/v1/events/stream/") as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "retry: 3000"  # sent after the stream's first read: it now waits
        publish_elsewhere(server, 1)
        frame = []
        for line in lines:  # each read is bounded by the client's timeout
            if line:
                frame.append(line)
            elif frame:
                break
    assert frame[0].startswith("id: ")
    assert frame[1] == "event: load.posted"
    assert '"load_id":"L-1"' in frame[2]


def test_a_long_poll_is_woken_and_resumes_with_no_gap_and_no_repeat(server):
    token = token_for(roles.MANAGER)
    headers = {"Authorization": f"Token {token}"}
    with server.client(headers=headers, timeout=TIMEOUT) as client:
        first = client.get("/api/v1/events/", params={"after": 0})
        assert first.status_code == 200, first.text
        cursor = first.json()["last_sequence"]
        answer = {}

        def watch():
            with server.client(headers=headers, timeout=TIMEOUT) as own:
                answer["response"] = own.get("/api/v1/events/", params={"after": cursor, "wait": 60})

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        publish_elsewhere(server, 2)
        watcher.join(TIMEOUT)
        assert not watcher.is_alive()
        body = answer["response"].json()
        assert [event["data"]["load_id"] for event in body["events"]] == ["L-2"]
        publish_elsewhere(server, 3)
        again = client.get("/api/v1/events/", params={"after": body["last_sequence"], "wait": 60}).json()
        assert [event["data"]["load_id"] for event in again["events"]] == ["L-3"]
