"""Sign-in protection for every way in with a password: the API sign-in (``POST /api/v1/auth/login/``)
and the HTML forms (``/sign-in/``, ``/admin/login/``, DRF's ``/api-auth/login/``).

- Throttles per client address (rate ``login``) and per username (rate ``login_username``), counted
  like every API throttle (``core.api.throttling``). The client address is
  ``core.network.client_address``: the connecting address, or the one the trusted proxies
  (``NUM_PROXIES``) recorded, never a header the client writes.
- A lockout: ``SIGN_IN_LOCKOUT_FAILURES`` failed sign-ins at one username within
  ``SIGN_IN_LOCKOUT_WINDOW_SECONDS`` refuse that username for ``SIGN_IN_LOCKOUT_SECONDS``, from any
  address, whatever the password. Failures are counted from Django's ``user_login_failed`` signal
  (``accounts.signals``), so every ``authenticate()`` counts. A success lifts no lockout in force.
  Unknown usernames are counted and refused exactly as existing ones, so the answers never tell
  which usernames exist.

The API runs these checks as DRF throttles (``SIGN_IN_THROTTLES`` on the login view), the HTML forms
through ``SignInGuardMiddleware``: either way a refused attempt gets 429 with ``Retry-After`` before
any password is checked. Counts live in the shared cache, so they hold across workers.

Without the cache (Redis unreachable) nothing is counted and a recorded lockout cannot be read:
sign-in fails open, like the request throttles, with a warning at most once a minute
(``core.api.throttling.warn_failing_open``); the password check itself is unchanged.
"""

import hashlib
import logging
import math
import time
import unicodedata

from django.conf import settings
from django.contrib.admin import AdminSite
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.shortcuts import render
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from core.api.throttling import CountingThrottle, cache_count, warn_failing_open
from core.fastpaths.cache import cache_degraded
from core.network import client_address

logger = logging.getLogger(__name__)

FAILURES_KEY = "accounts:sign-in:failures:{username}:{window}"
LOCKED_KEY = "accounts:sign-in:locked:{username}"


def username_key(username) -> str | None:
    """What a submitted username is counted under: normalised as Django's sign-in form does (NFKC,
    stripped), case-folded so "Admin" and "admin" share one count (they are one account on a
    case-insensitive database), and hashed, so keys are short and name no one."""
    if not isinstance(username, str):
        return None
    normalized = unicodedata.normalize("NFKC", username).strip().casefold()
    return hashlib.sha256(normalized.encode()).hexdigest() if normalized else None


def posted_username(request) -> str | None:
    """The username a sign-in request submits: the API's JSON body, or a form's POST data."""
    data = request.data if isinstance(request, Request) else request.POST
    value = data.get("username") if hasattr(data, "get") else None
    return value if isinstance(value, str) else None


# --- Lockout ----------------------------------------------------------------------------


def lockout_remaining(username) -> float:
    """Seconds until ``username`` may sign in again; 0 when it is not locked out."""
    key = username_key(username)
    if key is None:
        return 0.0
    until = cache.get(LOCKED_KEY.format(username=key))
    if until is None and cache_degraded(cache):
        warn_failing_open()
    return max(0.0, until - time.time()) if until is not None else 0.0


def failure_record(*, username, request=None) -> None:
    """Count a failed sign-in at ``username``; the one that reaches the limit starts the lockout.

    Failures in the last window are estimated as the request throttles estimate requests (this
    window's count plus the previous one's, weighted by its remaining overlap; one atomic round
    trip, so concurrent attempts lose no count), rounded up: a failure still partly inside the
    window counts whole, and no window edge lets more through."""
    key = username_key(username)
    if key is None or lockout_remaining(username):
        return  # a lockout in force is neither extended nor counted towards the next one
    duration = settings.SIGN_IN_LOCKOUT_WINDOW_SECONDS
    now = time.time()
    window = int(now // duration)
    current_key = FAILURES_KEY.format(username=key, window=window)
    previous_key = FAILURES_KEY.format(username=key, window=window - 1)
    current, previous = cache_count(cache, current_key, 2 * duration + 1, peek=previous_key)
    if not current:
        return  # the cache is unreachable: nothing was counted
    if math.ceil(current + previous * (1 - (now / duration - window))) < settings.SIGN_IN_LOCKOUT_FAILURES:
        return
    lockout = settings.SIGN_IN_LOCKOUT_SECONDS
    cache.set(LOCKED_KEY.format(username=key), now + lockout, timeout=math.ceil(lockout) + 1)
    cache.delete_many([current_key, previous_key])  # the count starts afresh when the lockout ends
    logger.warning(
        "Sign-in locked out after repeated failures",
        extra={
            "username": username[:150],
            "client_address": client_address(request) if request is not None else "",
            "lockout_seconds": lockout,
        },
    )


# --- Throttles --------------------------------------------------------------------------


def _rate(scope: str) -> str:
    # Read per request, not once at import as DRF's throttles do, so a settings change applies.
    try:
        return api_settings.DEFAULT_THROTTLE_RATES[scope]
    except KeyError:
        raise ImproperlyConfigured(f"REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'] has no {scope!r} rate") from None


class SignInAddressThrottle(CountingThrottle):
    """Sign-in attempts from one client address, whatever the username."""

    scope = "login"

    def get_rate(self):
        return _rate(self.scope)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SignInUsernameThrottle(CountingThrottle):
    """Sign-in attempts at one username, from any address."""

    scope = "login_username"

    def get_rate(self):
        return _rate(self.scope)

    def get_cache_key(self, request, view):
        key = username_key(posted_username(request))
        return None if key is None else self.cache_format % {"scope": self.scope, "ident": key}


class SignInLockout(BaseThrottle):
    """Refuses a locked-out username until its lockout ends (see ``failure_record``)."""

    def allow_request(self, request, view):
        self.remaining = lockout_remaining(posted_username(request))
        return not self.remaining

    def wait(self):
        return self.remaining


SIGN_IN_THROTTLES = (SignInAddressThrottle, SignInUsernameThrottle, SignInLockout)


def sign_in_wait(request) -> float | None:
    """Seconds the sign-in ``request`` must wait, or None when it may go ahead (DRF's
    ``check_throttles`` for requests outside DRF)."""
    throttles = [throttle_class() for throttle_class in SIGN_IN_THROTTLES]
    waits = [throttle.wait() for throttle in throttles if not throttle.allow_request(request, None)]
    return max(waits) if waits else None


def _takes_a_password(view_func) -> bool:
    """Django's LoginView (``/sign-in/``, DRF's ``/api-auth/login/``) or an admin site's login."""
    view_class = getattr(view_func, "view_class", None)
    if view_class is not None:
        return issubclass(view_class, auth_views.LoginView)
    return isinstance(getattr(view_func, "__self__", None), AdminSite) and view_func.__name__ == "login"


class SignInGuardMiddleware:
    """The sign-in throttles and lockout for the HTML sign-in forms: a POST that may not go ahead
    gets a 429 page with Retry-After before the form checks any password."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or not _takes_a_password(view_func):
            return None
        wait = sign_in_wait(request)
        if wait is None:
            return None
        retry_after = max(1, math.ceil(wait))
        response = render(request, "429.html", {"retry_after_minutes": math.ceil(retry_after / 60)}, status=429)
        response["Retry-After"] = str(retry_after)
        return response
