"""Who is on the other end of a request.

The one place that decides a request's client address, for DRF's throttles
(``core.api.throttling``) and the sign-in protection of the HTML forms (``accounts.signin``)
alike. ``X-Forwarded-For`` is whatever the client sent plus one address per proxy on the way,
each proxy appending the address it was reached from; only those appended by proxies we run can
be trusted. ``NUM_PROXIES`` says how many there are: with N the client is the Nth address from
the right, with 0 (the default) the header is ignored and the connecting address is the client.
A client that writes its own header only adds addresses to the left of the ones we read.
"""

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    """The client's IP address as the trusted proxies saw it (``REMOTE_ADDR`` without proxies)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR") if proxies else None
    if not forwarded:
        return remote
    addresses = forwarded.split(",")
    # Fewer addresses than proxies: the request skipped the outer ones, and the left-most
    # address is the one the first proxy it met was reached from (as DRF reads it too).
    candidate = addresses[-min(proxies, len(addresses))].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # not an address: a proxy that writes something else, or a miscount
        return remote
