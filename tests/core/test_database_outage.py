"""The running app survives a PostgreSQL outage: fast 503s with the JSON error body while
the database is unreachable, and recovery without a restart when it is back.

A TCP proxy opened by the test stands between a gunicorn server (its own process) and
the real PostgreSQL; closing the proxy cuts every connection and refuses new ones.
"""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from django.conf import settings
from django.db import connection
from knox.models import AuthToken

from accounts import roles
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]

FAST = 6.0  # seconds: DB_POOL_TIMEOUT (3 s here) plus a margin for a loaded machine


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target`` until closed; can be opened again."""

    def __init__(self, target):
        self.target = target
        self.port = _free_port()
        self.listener = None
        self.sockets = []
        self.lock = threading.Lock()

    def open(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self):
        listener, self.listener = self.listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy():
    db = connection.settings_dict
    proxy = TcpProxy((db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    proxy.open()
    yield proxy
    proxy.close()


@pytest.fixture
def server(proxy):
    db = connection.settings_dict
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CACHE_URL"))}
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}",
        "DB_POOL_TIMEOUT": "3",
        "DB_CONNECT_TIMEOUT": "2",
        "DJANGO_LOG_LEVEL": "CRITICAL",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "--threads", "4", "-w", "1"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health/live/", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, "the server did not start"
        time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)


def _timed(method, url, **kwargs):
    started = time.monotonic()
    response = httpx.request(method, url, timeout=30, **kwargs)
    return response, time.monotonic() - started


def test_database_outage_gives_fast_503s_and_the_app_recovers_by_itself(server, proxy):
    _, token = AuthToken.objects.create(user=UserFactory(roles=[roles.ADMIN]))
    auth = {"Authorization": f"Token {token}"}
    assert httpx.get(f"{server}/health/ready/", timeout=10).status_code == 200
    assert httpx.get(f"{server}/api/v1/loads/", headers=auth, timeout=10).status_code == 200

    proxy.close()

    ready, took = _timed("GET", f"{server}/health/ready/")
    assert ready.status_code == 503 and took < FAST, (ready.status_code, took)
    assert ready.json()["checks"]["database"]["status"] == "failing"
    for method, path in (
        ("GET", "/api/v1/loads/"),
        ("POST", "/api/v1/registry/services/"),
        ("GET", "/api/v1/auth/me/"),
    ):
        response, took = _timed(method, f"{server}{path}", headers=auth, json={"name": "x"})
        assert response.status_code == 503 and took < FAST, (method, path, response.status_code, took)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["code"] == "database_unavailable"
        assert response.headers["Retry-After"]

    proxy.open()

    deadline = time.monotonic() + 30
    while httpx.get(f"{server}/api/v1/loads/", headers=auth, timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the app did not recover after the database came back"
        time.sleep(0.5)
    assert httpx.get(f"{server}/health/ready/", timeout=10).status_code == 200
