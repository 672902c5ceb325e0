"""The running app survives a PostgreSQL outage: fast 503s with the JSON error body while
the database is unreachable, and recovery without a restart when it is back.

A TCP proxy opened by the test stands between a gunicorn server (its own process) and
the real PostgreSQL; closing the proxy cuts every connection and refuses new ones.

"Fast" is the client's own timeout: a request the server does not answer within the pool
timeout plus a margin fails the test as a hang. Nothing sleeps: the test waits on the
server's listening socket and on the proxy seeing the app connect again.
"""

import contextlib
import os
import socket
import subprocess
import sys
import threading

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

POOL_TIMEOUT = 3  # seconds the server waits for a database connection (DB_POOL_TIMEOUT)
# How long a client waits for the answer during the outage: the pool timeout plus a margin
# for a loaded machine. A server that holds requests longer fails the test as a timeout.
OUTAGE_ANSWER_TIMEOUT = POOL_TIMEOUT + 3.0
START_TIMEOUT = 60  # seconds for gunicorn to boot and answer its first request
RECONNECT_TIMEOUT = 60  # seconds for the pool to reconnect (its retries back off up to ~16 s here)


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
        self.forwarded = threading.Event()

    def open(self):
        """Start forwarding; ``self.forwarded`` is set once a client connects through this opening."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        self.forwarded = threading.Event()
        threading.Thread(target=self._accept, args=(listener, self.forwarded), daemon=True).start()

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

    def _accept(self, listener, forwarded):
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
            forwarded.set()

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
    # The test binds and listens, and gunicorn serves on that socket (fd://): a request sent
    # before the worker has booted waits in the backlog and is answered once it is up.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CACHE_URL"))}
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{proxy.port}/{db['NAME']}",
        "DB_POOL_TIMEOUT": str(POOL_TIMEOUT),
        "DB_CONNECT_TIMEOUT": "2",
        "DJANGO_LOG_LEVEL": "CRITICAL",
    }
    with listener:
        fd = listener.fileno()
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"fd://{fd}", "--threads", "4", "-w", "1"],
            cwd=settings.BASE_DIR,
            env=env,
            pass_fds=(fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    # Only gunicorn holds the socket now: if it dies, the request below is refused at once.
    url = f"http://127.0.0.1:{port}"
    try:
        live = httpx.get(f"{url}/health/live/", timeout=START_TIMEOUT)
    except httpx.HTTPError as exc:
        process.kill()
        process.wait(timeout=10)
        pytest.fail(f"the server did not start: {exc!r} (exit code {process.returncode})")
    assert live.status_code == 200, live.text
    yield url
    process.terminate()
    process.wait(timeout=10)


def _during_outage(method, url, **kwargs):
    """The answer to a request made while the database is unreachable; fails the test if the
    server holds the request past the pool timeout (plus a margin) instead of answering."""
    try:
        return httpx.request(method, url, timeout=OUTAGE_ANSWER_TIMEOUT, **kwargs)
    except httpx.TimeoutException:
        pytest.fail(
            f"{method} {url} got no answer within {OUTAGE_ANSWER_TIMEOUT:g} s while the database was down: "
            f"the server holds requests instead of answering 503 after the {POOL_TIMEOUT} s pool timeout"
        )


def test_database_outage_gives_fast_503s_and_the_app_recovers_by_itself(server, proxy):
    _, token = AuthToken.objects.create(user=UserFactory(roles=[roles.ADMIN]))
    auth = {"Authorization": f"Token {token}"}
    assert httpx.get(f"{server}/health/ready/", timeout=10).status_code == 200
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
    # for that connection to finish its handshake).
    assert proxy.forwarded.wait(timeout=RECONNECT_TIMEOUT), "the app did not reconnect after the database came back"
    assert httpx.get(f"{server}/api/v1/loads/", headers=auth, timeout=30).status_code == 200
    ready = httpx.get(f"{server}/health/ready/", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"]["status"] == "ok"
