import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class ServerURL(str):
    """A local server's base URL; ``requests`` lists the paths it was asked for, in order."""

    requests: list[str]


class _HealthHandler(BaseHTTPRequestHandler):
    """``/ok`` answers 200, ``/error`` 500, ``/redirect`` 302; ``/hang`` waits until the server stops;
    ``/gather/N`` answers 200 once N requests for it are in flight at the same time (until then, or
    if they never are, it waits as ``/hang`` does)."""

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path == "/hang":
            self.server.stopping.wait(10)
            return
        if self.path.startswith("/gather/"):
            wanted = int(self.path.rsplit("/", 1)[1])
            with self.server.gathering:
                self.server.gathered += 1
                self.server.gathering.notify_all()
                if not self.server.gathering.wait_for(lambda: self.server.gathered >= wanted, timeout=10):
                    return
            self.path = "/ok"
        status = {"/ok": 200, "/error": 500, "/redirect": 302}.get(self.path, 404)
        body = b'{"status": "ok"}' if status == 200 else b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 302:
            self.send_header("Location", "/ok")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def health_server():
    """A real HTTP server on 127.0.0.1 with a free port; yields its base URL (a ``ServerURL``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthHandler)
    server.daemon_threads = True
    server.block_on_close = False
    server.stopping = threading.Event()
    server.requests = []
    server.gathering, server.gathered = threading.Condition(), 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = ServerURL(f"http://127.0.0.1:{server.server_address[1]}")
        url.requests = server.requests
        yield url
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def fake_dns(monkeypatch):
    """Answer DNS for some names: ``fake_dns["status.example"] = ["93.184.216.34"]`` (``[]`` = no
    such name). Other names, and address literals, go to the real resolver. Only the OS resolver
    is replaced; the dict may be changed mid-test to re-point a name."""
    answers: dict[str, list[str]] = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in answers:
            return real_getaddrinfo(host, port, *args, **kwargs)
        if not answers[name]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port), 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, int(port)))
            for ip in answers[name]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def reader_client(make_client):
    """Signed in with the registry's read permissions only (no role holds just these)."""
    from django.contrib.auth.models import Permission

    client = make_client(None)
    client.user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="registry", codename__in=["view_service", "view_dependency", "view_tag"]
        )
    )
    return client
