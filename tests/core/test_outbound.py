"""The outbound guard (core.outbound): which addresses it refuses, that it connects to the address it
checked, and that it follows no redirect. Real HTTP servers on 127.0.0.1 stand in for both the
outside world and the internal network; only the OS resolver is ever replaced, never our code."""

import contextlib
import inspect
import ipaddress
import os
import re
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpcore
import httpx
import pytest
from django.core.exceptions import ImproperlyConfigured

from core import outbound
from core.outbound import ADDRESS_NOT_ALLOWED, HOST_NOT_RESOLVED, NOT_AN_HTTP_URL, OutboundRefused

REAL_GETADDRINFO = socket.getaddrinfo
# Not application code: tests, assets, and bench/ (scripts an operator runs against our own server).
# Not the app: tests, benchmarks, assets, and the container's own probe of its local gunicorn
# (docker/healthcheck.py: 127.0.0.1, a fixed path, no address anyone supplies).
SKIP = {"tests", "bench", "node_modules", "static", "templates", "docs", "docker"}


@pytest.fixture
def nothing_allowed(settings):
    """Production's default: no network opened (the test settings open loopback)."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []


class _Handler(BaseHTTPRequestHandler):
    """``/redirect`` answers 302 to ``/target``; anything else 200. Records (path, Host)."""

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Host")))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_address[1]}/target")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format, *args):
        pass


class _KeepAliveHandler(_Handler):
    """HTTP/1.1, keeping connections open; records each request's client port in ``server.connections``.
    ``/drop`` on a connection that already answered, and ``/drop-always``, hang up without an answer."""

    protocol_version = "HTTP/1.1"
    answered = 0

    def do_GET(self):
        self.server.connections.append(self.client_address[1])
        if self.path == "/drop-always" or (self.path == "/drop" and self.answered):
            self.server.requests.append((self.path, self.headers.get("Host")))
            self.close_connection = True
            return
        self.answered += 1
        super().do_GET()


def _start(host, port=0, handler=_Handler):
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.requests = []
    server.connections = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    return server, thread


def _stop(server, thread):
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def server():
    """A real HTTP server on 127.0.0.1; ``server.port`` and ``server.requests``."""
    srv, thread = _start("127.0.0.1")
    srv.port = srv.server_address[1]
    yield srv
    _stop(srv, thread)


@pytest.fixture
def keepalive_server():
    """Like ``server``, answering over HTTP/1.1 with keep-alive (``_KeepAliveHandler``)."""
    srv, thread = _start("127.0.0.1", handler=_KeepAliveHandler)
    srv.port = srv.server_address[1]
    yield srv
    _stop(srv, thread)


def fake_resolver(monkeypatch, answers_for):
    """Replace the OS resolver: ``answers_for(host)`` gives a list of IP strings, or None to ask the
    real resolver. Returns the list of hosts looked up (as text)."""
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        lookups.append(name)
        answers = answers_for(name)
        if answers is None:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (ip, int(port), 0, 0) if ":" in ip else (ip, int(port)),
            )
            for ip in answers
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


# --- Which addresses --------------------------------------------------------------------------

INTERNAL_URLS = [
    # loopback, spelled every way inet_aton accepts
    "http://127.0.0.1/",
    "http://2130706433/",  # decimal
    "http://0x7f.1/",  # hex, short form
    "http://0x7f000001/",
    "http://017700000001/",  # octal
    "http://127.1/",  # short form
    "http://localhost/",
    "http://LOCALHOST:8000/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::7f00:1]/",  # IPv4-compatible
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    # link-local, cloud metadata
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    # private, shared, site-local, unique-local
    "http://10.0.0.5:9200/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://[fec0::1]/",
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    # unspecified, multicast, broadcast, reserved, documentation
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://192.0.2.10/",
]


@pytest.mark.usefixtures("nothing_allowed")
@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_addresses_are_refused_however_they_are_written(url):
    with pytest.raises(OutboundRefused) as refused:
        outbound.check_url(url)
    assert refused.value.reason == ADDRESS_NOT_ALLOWED
    # The message is for people and names no address.
    assert not re.search(r"\d+\.\d+\.\d+|::", str(refused.value))


@pytest.mark.usefixtures("nothing_allowed")
@pytest.mark.parametrize("url", ["http://0177.0.0.1/", "http://127.000.000.001/", "http://127.0.0.1.1/"])
def test_dotted_spellings_httpx_will_not_parse_are_refused_too(url):
    with pytest.raises(OutboundRefused):
        outbound.check_url(url)


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]
)
def test_public_addresses_are_allowed(address):
    assert outbound.address_allowed(address, allowed=())


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "::1", "::ffff:127.0.0.1", "fe80::1", "fe80::1%1", "fc00::1", "169.254.169.254", "10.1.2.3"]
    + ["172.16.5.4", "192.168.0.1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "ff02::1"]
    + ["2002:a00:1::", "::ffff:169.254.169.254"],
)
def test_internal_addresses_are_not_allowed(address):
    assert not outbound.address_allowed(address, allowed=())


def test_allowed_networks_open_exactly_their_range(settings):
    ten = [ipaddress.ip_network("10.0.0.0/8")]
    assert outbound.address_allowed("10.20.30.40", allowed=ten)
    assert outbound.address_allowed("::ffff:10.20.30.40", allowed=ten)  # the same address, mapped
    assert not outbound.address_allowed("192.168.0.1", allowed=ten)
    assert not outbound.address_allowed("127.0.0.1", allowed=ten)

    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00:1::/64"]
    outbound.check_url("http://10.20.30.40:9200/")
    outbound.check_url("http://[fd00:1::5]/")
    with pytest.raises(OutboundRefused):
        outbound.check_url("http://10.21.0.1/")
    with pytest.raises(OutboundRefused):
        outbound.check_url("http://169.254.169.254/")


def test_a_malformed_allowed_network_is_a_configuration_error(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.5/8"]  # host bits set: a typo, not a network
    with pytest.raises(ImproperlyConfigured, match="OUTBOUND_ALLOWED_NETWORKS"):
        outbound.check_url("http://93.184.216.34/")


@pytest.mark.usefixtures("nothing_allowed")
def test_a_name_is_refused_when_any_of_its_addresses_is_internal(monkeypatch):
    fake_resolver(
        monkeypatch,
        lambda host: {"mixed.example": ["93.184.216.34", "10.0.0.7"], "public.example": ["93.184.216.34"]}.get(host),
    )
    with pytest.raises(OutboundRefused) as refused:
        outbound.check_url("https://mixed.example/health")
    assert refused.value.reason == ADDRESS_NOT_ALLOWED
    outbound.check_url("https://public.example/health")


def test_unresolvable_names_and_non_http_urls_are_refused(monkeypatch):
    fake_resolver(monkeypatch, lambda host: [] if host == "nowhere.invalid" else None)
    with pytest.raises(OutboundRefused) as refused:
        outbound.check_url("http://nowhere.invalid/health")
    assert refused.value.reason == HOST_NOT_RESOLVED
    for url in ["ftp://93.184.216.34/", "file:///etc/passwd", "http:///path-only", "http://[::1/"]:
        with pytest.raises(OutboundRefused) as refused:
            outbound.check_url(url)
        assert refused.value.reason == NOT_AN_HTTP_URL


# --- The client ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("nothing_allowed")
@pytest.mark.parametrize("host", ["127.0.0.1", "0x7f.1", "2130706433", "127.1", "localhost"])
def test_the_client_never_contacts_a_refused_address(server, host):
    with outbound.guarded_client(timeout=2) as client, pytest.raises(OutboundRefused):
        client.get(f"http://{host}:{server.port}/secret")
    assert server.requests == []


def test_an_allowed_range_is_reached_and_numeric_spellings_reach_what_they_resolve_to(server, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with outbound.guarded_client(timeout=2) as client:
        assert client.get(f"http://0x7f.1:{server.port}/hex").status_code == 200
        assert client.get(f"http://127.0.0.1:{server.port}/plain").status_code == 200
    assert [path for path, _ in server.requests] == ["/hex", "/plain"]


def test_redirects_are_not_followed_even_when_a_call_asks(server):
    with outbound.guarded_client(timeout=2) as client:
        response = client.get(f"http://127.0.0.1:{server.port}/redirect")
        assert response.status_code == 302
        assert client.get(f"http://127.0.0.1:{server.port}/redirect", follow_redirects=True).status_code == 302
    assert [path for path, _ in server.requests] == ["/redirect", "/redirect"]  # /target never asked for


def test_environment_proxies_are_ignored(server, monkeypatch):
    # A proxy would resolve and connect for us, out of the guard's sight; the client goes direct.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    with outbound.guarded_client(timeout=2) as client:
        assert client.get(f"http://127.0.0.1:{server.port}/direct").status_code == 200


def test_timeouts_are_capped():
    with outbound.guarded_client(timeout=3600) as client:
        assert client.timeout.connect == client.timeout.read == outbound.MAX_TIMEOUT_SECONDS
    with outbound.guarded_client() as client:
        assert client.timeout.read == outbound.DEFAULT_TIMEOUT_SECONDS


def test_the_connection_goes_to_the_address_that_was_checked(server, settings, monkeypatch):
    """DNS rebinding: the name answers an allowed address when checked and an internal one
    afterwards. The client looks the name up once and connects to what it checked."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    answers = iter([["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]])
    lookups = fake_resolver(monkeypatch, lambda host: next(answers) if host == "rebind.test" else None)
    with outbound.guarded_client(timeout=2) as client:
        response = client.get(f"http://rebind.test:{server.port}/pinned")
    assert response.status_code == 200 and response.text == "ok"
    assert lookups.count("rebind.test") == 1
    # The name stays the request's: the Host header (and, over https, SNI and the certificate check).
    assert server.requests == [("/pinned", f"rebind.test:{server.port}")]


def test_over_https_the_handshake_names_the_url_host_not_the_address(settings, monkeypatch):
    """SNI (and so the certificate check) is for the URL's host name even though the socket goes
    to the vetted literal. The server has no certificate: it only records the name it was sent."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    server_names = []
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.sni_callback = lambda ssl_socket, name, context: server_names.append(name)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def handshake():
            connection, _ = listener.accept()
            with contextlib.suppress(OSError), tls.wrap_socket(connection, server_side=True):
                pass

        thread = threading.Thread(target=handshake, daemon=True)
        thread.start()
        fake_resolver(monkeypatch, lambda host: ["127.0.0.1"] if host == "tls.example" else None)
        with outbound.guarded_client(timeout=2) as client, pytest.raises(outbound.OutboundConnectError):
            client.get(f"https://tls.example:{port}/")
        thread.join(5)
    assert server_names == ["tls.example"]


def test_a_name_first_answering_an_internal_address_is_refused(server, settings, monkeypatch):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    answers = iter([["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1"]])
    fake_resolver(monkeypatch, lambda host: next(answers) if host == "rebind.test" else None)
    with outbound.guarded_client(timeout=2) as client, pytest.raises(OutboundRefused):
        client.get(f"http://rebind.test:{server.port}/")
    assert server.requests == []


def test_a_resolver_that_lies_even_about_literals_cannot_move_the_connection(settings, monkeypatch):
    """Every lookup after the first answers 127.0.0.2, even for the literal the client connects
    to: the socket ends up elsewhere than the vetted address, and the guard hangs up unheard."""
    internal, internal_thread = _start("127.0.0.2")
    port = internal.server_address[1]
    try:
        checked, checked_thread = _start("127.0.0.1", port)
    except OSError:
        _stop(internal, internal_thread)
        pytest.skip("that port is taken on 127.0.0.1")
    try:
        settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        answers = iter([["127.0.0.1"]])
        fake_resolver(monkeypatch, lambda host: next(answers, ["127.0.0.2"]))
        with outbound.guarded_client(timeout=2) as client, pytest.raises(OutboundRefused):
            client.get(f"http://rebind.test:{port}/secret")
        assert internal.requests == [] and checked.requests == []
    finally:
        _stop(checked, checked_thread)
        _stop(internal, internal_thread)


# --- The shared client (many requests in a row: webhook deliveries) ----------------------------------


@pytest.fixture
def shared(settings):
    """The shared clients start and end closed; loopback 127.0.0.1 is allowed."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    outbound.close_shared_clients()
    yield
    outbound.close_shared_clients()


@pytest.mark.usefixtures("shared")
def test_the_shared_client_keeps_its_connection_and_never_looks_the_name_up_again(keepalive_server, monkeypatch):
    """A kept-alive connection stays on the address vetted when it was opened: no second lookup, so DNS that
    changes afterwards cannot move it."""
    answers = iter([["127.0.0.1"]])
    lookups = fake_resolver(monkeypatch, lambda host: next(answers, ["127.0.0.2"]) if host == "keep.test" else None)
    client = outbound.shared_client(timeout=2)
    for path in ("/one", "/two", "/three"):
        assert outbound.shared_client(timeout=2) is client
        assert client.get(f"http://keep.test:{keepalive_server.port}{path}").status_code == 200
    assert lookups.count("keep.test") == 1
    assert len(set(keepalive_server.connections)) == 1
    assert [path for path, _ in keepalive_server.requests] == ["/one", "/two", "/three"]
    assert outbound.shared_client(timeout=3) is not client  # one per timeout
    assert outbound.shared_client(timeout=3600).timeout.read == outbound.MAX_TIMEOUT_SECONDS


@pytest.mark.usefixtures("shared")
def test_a_reused_shared_client_still_refuses_a_disallowed_address_on_a_new_connection(keepalive_server, monkeypatch):
    internal, internal_thread = _start("127.0.0.2", handler=_KeepAliveHandler)
    try:
        fake_resolver(monkeypatch, lambda host: ["127.0.0.2"] if host == "internal.test" else None)
        client = outbound.shared_client(timeout=2)
        assert client.get(f"http://127.0.0.1:{keepalive_server.port}/kept").status_code == 200
        assert len(client._transport._pool.connections) == 1  # kept alive
        for url in (
            f"http://127.0.0.2:{internal.server_address[1]}/secret",
            f"http://internal.test:{internal.server_address[1]}/secret",
        ):
            with pytest.raises(OutboundRefused):
                outbound.shared_client(timeout=2).get(url)
        assert internal.requests == []
        assert client.get(f"http://127.0.0.1:{keepalive_server.port}/kept").status_code == 200
    finally:
        _stop(internal, internal_thread)


@pytest.mark.usefixtures("shared")
def test_the_shared_client_follows_no_redirect_and_uses_no_proxy(keepalive_server, monkeypatch):
    for name in ("HTTP_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    client = outbound.shared_client(timeout=2)
    assert client.get(f"http://127.0.0.1:{keepalive_server.port}/redirect").status_code == 302
    response = client.get(f"http://127.0.0.1:{keepalive_server.port}/redirect", follow_redirects=True)
    assert response.status_code == 302
    assert [path for path, _ in keepalive_server.requests] == ["/redirect", "/redirect"]  # /target never asked for


@pytest.mark.usefixtures("shared")
def test_a_change_of_allowed_networks_or_age_replaces_the_shared_client_and_closes_its_connections(
    keepalive_server, settings, monkeypatch
):
    url = f"http://127.0.0.1:{keepalive_server.port}/kept"
    client = outbound.shared_client(timeout=2)
    assert client.get(url).status_code == 200

    settings.OUTBOUND_ALLOWED_NETWORKS = []
    replacement = outbound.shared_client(timeout=2)
    assert replacement is not client and client.is_closed
    with pytest.raises(OutboundRefused):  # the connection kept under the wider setting is gone with its client
        replacement.get(url)
    assert [path for path, _ in keepalive_server.requests] == ["/kept"]

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    client = outbound.shared_client(timeout=2)
    assert outbound.shared_client(timeout=2) is client
    monkeypatch.setattr(outbound, "SHARED_CLIENT_MAX_AGE_SECONDS", 0)
    assert outbound.shared_client(timeout=2) is not client and client.is_closed


@pytest.mark.usefixtures("shared")
def test_the_shared_client_is_the_threads_own_and_made_anew_in_a_forked_process(keepalive_server):
    url = f"http://127.0.0.1:{keepalive_server.port}/kept"
    client = outbound.shared_client(timeout=2)
    assert client.get(url).status_code == 200

    in_thread = []
    thread = threading.Thread(target=lambda: in_thread.append(outbound.shared_client(timeout=2)))
    thread.start()
    thread.join(5)
    assert in_thread and in_thread[0] is not client
    in_thread[0].close()

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a new client with no connection; the parent's left open (its sockets)
        try:
            made = outbound.shared_client(timeout=2)
            fresh = made is not client and not made._transport._pool.connections and not client.is_closed
            os.write(write_end, b"fresh" if fresh else b"shared")
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        assert answer.read() == b"fresh"
    os.waitpid(pid, 0)
    # The parent's client and its kept connection are untouched.
    assert outbound.shared_client(timeout=2) is client
    assert client.get(url).status_code == 200
    assert len(set(keepalive_server.connections)) == 1


@pytest.mark.usefixtures("shared")
def test_a_request_the_server_drops_on_a_kept_alive_connection_is_sent_once_more_on_a_new_one(keepalive_server):
    client = outbound.shared_client(timeout=2)
    base = f"http://127.0.0.1:{keepalive_server.port}"
    assert client.get(f"{base}/first").status_code == 200
    # The kept connection is hung up on without an answer: sent again, once, on a new connection.
    assert client.get(f"{base}/drop").status_code == 200
    assert [path for path, _ in keepalive_server.requests] == ["/first", "/drop", "/drop"]
    assert len(set(keepalive_server.connections)) == 2
    # Dropped again on the new connection too: no second resend.
    keepalive_server.requests.clear()
    with pytest.raises(outbound.OutboundError):
        client.get(f"{base}/drop-always")
    assert [path for path, _ in keepalive_server.requests] == ["/drop-always", "/drop-always"]
    # Dropped on a new connection: nothing is sent again.
    keepalive_server.requests.clear()
    with pytest.raises(outbound.OutboundError):
        client.get(f"{base}/drop-always")
    assert [path for path, _ in keepalive_server.requests] == ["/drop-always"]


def test_guarded_client_is_still_a_new_client_each_time():
    with outbound.guarded_client() as first, outbound.guarded_client() as second:
        assert first is not second and first._transport._pool is not second._transport._pool


# --- What the guard borrows from httpx/httpcore --------------------------------------------------


def test_httpx_still_sends_through_the_pool_the_guard_replaces():
    # GuardedTransport swaps httpx.HTTPTransport._pool (private) for a pool with our network
    # backend. If httpx stops sending through ``_pool``, requests would bypass the guard.
    assert "self._pool.handle_request(" in inspect.getsource(httpx.HTTPTransport.handle_request)
    transport = outbound.GuardedTransport()
    assert isinstance(transport._pool, httpcore.ConnectionPool)
    # The pieces used are httpcore's public API: the pool's network_backend and connect_tcp's signature.
    assert "network_backend" in inspect.signature(httpcore.ConnectionPool).parameters
    assert list(inspect.signature(httpcore.SyncBackend.connect_tcp).parameters) == list(
        inspect.signature(outbound._GuardedNetworkBackend.connect_tcp).parameters
    )


def test_only_the_guard_makes_http_requests():
    """Every request to an address someone supplied goes through core.outbound: no other app
    module imports an HTTP client library."""
    root = Path(__file__).resolve().parents[2]
    client_import = re.compile(
        r"^\s*(?:import|from)\s+(?:httpx|httpcore|requests|urllib3|aiohttp|urllib\.request|http\.client)\b", re.M
    )
    packages = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in SKIP]
    offenders = [
        str(path.relative_to(root))
        for package in packages
        for path in package.rglob("*.py")
        if path != root / "core" / "outbound.py" and client_import.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
