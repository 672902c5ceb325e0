"""Outbound HTTP: the one way the server calls an address someone typed in.

A service's health check URL (and, later, a webhook) is chosen by a user, so a plain HTTP client
would let that user aim the server at its own network: cloud metadata at 169.254.169.254, a
database on 10.0.0.5, an admin port on 127.0.0.1. Every such request goes through
``guarded_client()``, which

* resolves the host once and refuses it unless **every** address it resolves to is public
  (``address_allowed``: loopback, private, link-local, shared 100.64/10, reserved, multicast,
  unspecified, site-local, unique-local and IPv6 forms that embed one of those are refused).
  Numeric spellings (``2130706433``, ``0x7f.1``, ``127.1``) are judged by what the resolver
  makes of them, not by how they are written;
* connects to exactly the address it checked (no second lookup, so a DNS answer that changes
  between check and connect cannot slip through), while the ``Host`` header, TLS SNI and
  certificate verification stay those of the URL's own host name;
* never follows a redirect, never uses an environment proxy (a proxy would resolve the host
  itself), and caps its timeout.

``shared_client()`` is the same guard for many requests in a row (webhook deliveries): one client per
thread and process, its TLS context built once and its connections kept alive, each new one vetted as
above; its docstring says how long a connection may live.

Ranges listed in the ``OUTBOUND_ALLOWED_NETWORKS`` setting (CIDRs) are opened on purpose, e.g.
an internal subnet whose services the registry should probe. ``check_url`` runs the same address
check without connecting, for validating a URL when it is saved.

Refusals raise ``OutboundRefused``, whose text is one of a few fixed phrases: never the resolved
addresses or the underlying error, so callers may show it to the user who supplied the URL.

This module is the project's adapter for httpx/httpcore: the rest of the app uses the names
below, not the libraries. One private attribute is touched, ``httpx.HTTPTransport._pool`` (httpx
offers no way to hand its connection pool a network backend); ``tests/core/test_outbound.py``
guards it.
"""

import ipaddress
import os
import socket
import threading
import time
from collections.abc import Iterable

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_TIMEOUT_SECONDS = 30.0
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)  # httpx's defaults
# ``shared_client()``: an idle kept-alive connection is closed after this many seconds (shorter than the idle
# timeouts servers commonly use, 2 s for gunicorn, 5 s for Node, so the server rarely closes one as we reuse it) ...
SHARED_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=1.5)
# ... and the client itself, with every connection it holds, is replaced after this many seconds, so no connection
# (even one never idle) lives longer than this, whatever the receiver does.
SHARED_CLIENT_MAX_AGE_SECONDS = 300.0

ADDRESS_NOT_ALLOWED = "address not allowed"
HOST_NOT_RESOLVED = "host not resolved"
NOT_AN_HTTP_URL = "not an http(s) URL"
_MESSAGES = {
    ADDRESS_NOT_ALLOWED: (
        "This URL points at an address the server may not call (loopback, private, link-local or "
        "otherwise internal). An administrator can open a network with OUTBOUND_ALLOWED_NETWORKS."
    ),
    HOST_NOT_RESOLVED: "This URL's host name could not be resolved.",
    NOT_AN_HTTP_URL: "Enter an http(s) URL with a host name.",
}

# 100.64.0.0/10 (carrier-grade NAT) is neither private nor global to ``ipaddress``; refuse it by name.
SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")
# IPv6 prefixes that carry an IPv4 address in their last 32 bits and may be translated to it.
NAT64_PREFIXES = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# What callers catch, without importing httpx themselves. ``OutboundRefused`` is an ``OutboundError``.
OutboundError = httpx.HTTPError
OutboundTimeout = httpx.TimeoutException
OutboundConnectError = httpx.ConnectError
Response = httpx.Response


class OutboundRefused(httpx.TransportError):
    """The guard would not call this URL. ``reason`` is a short fixed phrase for logs and probe
    details; ``str(exc)`` a sentence for people. Neither names an address."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(_MESSAGES[reason])


def allowed_networks() -> tuple[IPNetwork, ...]:
    """``OUTBOUND_ALLOWED_NETWORKS`` parsed (read on each call, so tests may override it)."""
    networks = []
    for entry in getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", ()):
        if not entry.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip()))
        except ValueError:
            raise ImproperlyConfigured(
                f"OUTBOUND_ALLOWED_NETWORKS: {entry!r} is not a network in CIDR form (e.g. 10.20.0.0/16)."
            ) from None
    return tuple(networks)


def _ip(text: str) -> IPAddress:
    """An address as ``getaddrinfo``/``getpeername`` spell it, without an IPv6 zone (``%eth0``)."""
    return ipaddress.ip_address(text.split("%", 1)[0])


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries and may be delivered to (6to4, Teredo, NAT64, IPv4-compatible)."""
    embedded = []
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)  # (server, client)
    if any(address in prefix for prefix in NAT64_PREFIXES) or int(address) >> 32 == 0:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return embedded


def address_allowed(address: IPAddress | str, allowed: Iterable[IPNetwork] | None = None) -> bool:
    """May the server connect to ``address``? Only public unicast addresses, plus ``allowed``
    (default: ``OUTBOUND_ALLOWED_NETWORKS``)."""
    address = _ip(address) if isinstance(address, str) else address
    allowed = allowed_networks() if allowed is None else tuple(allowed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket
    if any(address.version == network.version and address in network for network in allowed):
        return True
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local:
            return False
        if any(not address_allowed(inner, allowed) for inner in _embedded_ipv4(address)):
            return False
    elif address in SHARED_ADDRESS_SPACE:
        return False
    # ``is_global`` alone lets multicast (224.0.0.1, ff02::1) and, on some Python versions,
    # other special ranges through; the explicit flags make the rule independent of the version.
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def vetted_addresses(host: str, port: int) -> list[str]:
    """Resolve ``host`` once; its addresses in the resolver's order if all of them are allowed.

    Refusing when *any* answer is internal (not only the first) means a name cannot mix a
    public address with an internal one and hope the connection picks the latter."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise OutboundRefused(HOST_NOT_RESOLVED) from None
    addresses = list(dict.fromkeys(answer[4][0] for answer in answers))
    if not addresses:
        raise OutboundRefused(HOST_NOT_RESOLVED)
    allowed = allowed_networks()
    for address in addresses:
        try:
            if not address_allowed(address, allowed):
                raise OutboundRefused(ADDRESS_NOT_ALLOWED)
        except ValueError:  # not an IP address at all
            raise OutboundRefused(ADDRESS_NOT_ALLOWED) from None
    return addresses


def check_url(url: str) -> None:
    """Would ``guarded_client()`` call ``url``? Raises ``OutboundRefused`` if not. The URL is read
    by httpx, so the host checked is the host the client would connect to."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise OutboundRefused(NOT_AN_HTTP_URL) from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise OutboundRefused(NOT_AN_HTTP_URL)
    vetted_addresses(parsed.raw_host.decode("ascii"), parsed.port or (443 if parsed.scheme == "https" else 80))


class _GuardedNetworkBackend(httpcore.SyncBackend):
    """httpcore asks its network backend for every new connection with the URL's host; this one
    resolves and vets it, then opens the socket to a vetted address literal. TLS is started by
    httpcore afterwards with ``server_hostname`` = the URL's host, so SNI and certificate checks
    are unchanged."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        failure = None
        for address in vetted_addresses(host, port):
            try:
                stream = super().connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            # An address literal is not looked up in DNS, but make sure: the socket must be
            # connected to the very address that was vetted.
            peer = stream.get_extra_info("server_addr")
            if not peer or _ip(peer[0]) != _ip(address):
                stream.close()
                raise OutboundRefused(ADDRESS_NOT_ALLOWED)
            return stream
        raise failure


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport, with connections opened by ``_GuardedNetworkBackend``. No proxy: a
    proxy would resolve and connect on our behalf, out of the guard's sight."""

    def __init__(self, limits: httpx.Limits = LIMITS) -> None:
        ssl_context = httpx.create_ssl_context()
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # Private API: httpx builds ``_pool`` without a way to pass a network backend, so it is
        # replaced by the same pool with ours (guarded in tests/core/test_outbound.py).
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedNetworkBackend(),
        )


class _KeepAliveTransport(GuardedTransport):
    """The shared client's transport: connections are kept alive between requests (``SHARED_LIMITS``).

    A kept-alive connection stays on the address that was vetted when it was opened: the host name is never looked
    up again on an open socket, so DNS that changes afterwards (rebinding) cannot move it, and every *new*
    connection goes through ``_GuardedNetworkBackend.connect_tcp`` as with ``guarded_client()``.

    A server may close an idle connection just as a request is sent on it. httpcore drops connections already
    closed by the server before reusing them, but not one closed in that instant; then the request is sent once
    more, on another connection, when it went out on a kept-alive connection, failed before any answer arrived, and
    its body can be sent again. The receiver may then see it twice: callers must tolerate repeats (webhooks do:
    every attempt carries the same ``webhook-id``)."""

    _DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        reusing = self._has_idle_connection(request)
        try:
            return super().handle_request(request)
        except self._DROPPED:
            if not reusing or not isinstance(request.stream, httpx.ByteStream):
                raise
        return super().handle_request(request)

    def _has_idle_connection(self, request: httpx.Request) -> bool:
        url = request.url  # as httpx.HTTPTransport hands it to the pool
        origin = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path).origin
        return any(
            connection.can_handle_request(origin) and connection.is_idle() and not connection.has_expired()
            for connection in self._pool.connections
        )


class GuardedClient(httpx.Client):
    """An httpx client that never follows a redirect, whatever a call asks for: a 3xx is the answer."""

    def send(self, request, **kwargs):
        kwargs["follow_redirects"] = False
        return super().send(request, **kwargs)


def guarded_client(*, timeout: float = DEFAULT_TIMEOUT_SECONDS, headers: dict | None = None) -> GuardedClient:
    """A client for URLs users supplied; use it as a context manager. ``timeout`` (seconds, for
    each of connect, read, write and pool wait) is capped at ``MAX_TIMEOUT_SECONDS``."""
    return GuardedClient(
        transport=GuardedTransport(),
        timeout=httpx.Timeout(min(timeout, MAX_TIMEOUT_SECONDS)),
        headers=headers,
        follow_redirects=False,
        trust_env=False,
    )


# The current thread's shared clients: {"pid": the process that made them, "clients": {timeout: _Shared}}.
_shared = threading.local()


class _Shared:
    def __init__(self, allowed: tuple[IPNetwork, ...], timeout: float):
        self.allowed = allowed
        self.born = time.monotonic()
        self.client = GuardedClient(
            transport=_KeepAliveTransport(SHARED_LIMITS),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
        )


def shared_client(*, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> GuardedClient:
    """A guarded client kept for the current thread of the current process, for many requests in a row (webhook
    deliveries): its TLS context is built once and its connections are kept alive between requests to the same
    origin. Do not close it or use it as a context manager; it is closed when it is replaced.

    The guard is ``guarded_client()``'s: every new connection is resolved and vetted, no redirect, no proxy, the
    same capped ``timeout``. On top of it:

    * the client belongs to one thread of one process. In a process forked from the one that made it (a prefork
      worker), a new one is made and the parent's is left alone: its sockets are the parent's;
    * it is replaced (and its connections closed) when ``OUTBOUND_ALLOWED_NETWORKS`` changes, so a connection
      opened under a wider setting is not used under a narrower one, and after ``SHARED_CLIENT_MAX_AGE_SECONDS``;
      an idle connection is not used after ``SHARED_LIMITS.keepalive_expiry`` seconds (httpcore closes expired
      connections when the client is next used, not in the background);
    * a request that went out on a kept-alive connection the server closed meanwhile is sent once more (see
      ``_KeepAliveTransport``): a receiver may see a request twice."""
    timeout = min(timeout, MAX_TIMEOUT_SECONDS)
    allowed = allowed_networks()
    pid = os.getpid()
    if getattr(_shared, "pid", None) != pid:
        # A new thread, or the first call in a forked child: the parent's clients (copied by the fork) are
        # dropped without closing them, as their sockets are the parent's.
        _shared.pid, _shared.clients = pid, {}
    shared = _shared.clients.get(timeout)
    if shared is not None and (
        shared.allowed != allowed or time.monotonic() - shared.born >= SHARED_CLIENT_MAX_AGE_SECONDS
    ):
        shared.client.close()
        shared = None
    if shared is None:
        shared = _shared.clients[timeout] = _Shared(allowed, timeout)
    return shared.client


def close_shared_clients() -> None:
    """Close the current thread's shared clients and their connections (the next ``shared_client()`` makes new)."""
    if getattr(_shared, "pid", None) == os.getpid():
        for shared in _shared.clients.values():
            shared.client.close()
    _shared.pid, _shared.clients = os.getpid(), {}
