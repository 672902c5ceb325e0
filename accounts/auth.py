"""Token authentication: knox's, plus a "last used" mark per token, strict decoding, and a
short-lived cache of who a token belongs to and what they may do.

The "last used" mark lives in the shared cache (``Django CACHES``), written at most once a
minute per token, so authenticating costs no database write; it is what
``GET /api/v1/auth/tokens/`` shows. A cache flush forgets it.

Without the cache (Redis unreachable, ``core.fastpaths.cache``) a token is authenticated from the
database on every request and its last-use marks are skipped until the cache is back.

Who a token belongs to, and that user's permissions, are cached under the token's digest for
API_AUTH_CACHE_SECONDS, so a request with a known token costs no query for authentication or
permission checks. Everything that changes the answer drops the entry at once
(``accounts.signals``): revoking or deleting a token, saving or deactivating the user, and any
change of the user's groups or of a group's permissions. The TTL bounds what a change made
around the ORM (raw SQL) can leave stale. A token's own expiry is checked on every request.
"""

import logging

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.crypto import hash_token
from rest_framework import exceptions

from core.fastpaths.cache import cache_degraded

logger = logging.getLogger(__name__)

LAST_USED_KEY = "accounts:token:last-used:{digest}"
LAST_USED_RESOLUTION_SECONDS = 60


def last_used_key(digest: str) -> str:
    return LAST_USED_KEY.format(digest=digest)


# When this process last wrote or saw each token's mark: within the resolution there is nothing
# to write, so most requests skip the cache round trip altogether.
_recorded_here: dict[str, float] = {}


def record_use(auth_token) -> None:
    now = timezone.now()
    written = _recorded_here.get(auth_token.digest)
    if written is not None and now.timestamp() - written < LAST_USED_RESOLUTION_SECONDS:
        return
    key = last_used_key(auth_token.digest)
    previous = cache.get(key)
    if cache_degraded(cache):
        return  # skipped, and not remembered as written: the mark is written once the cache is back
    if previous is not None and (now - previous).total_seconds() < LAST_USED_RESOLUTION_SECONDS:
        # Another worker marked it: nothing to write until that mark is a minute old either.
        _remember_recorded(auth_token.digest, previous.timestamp())
        return
    timeout = None
    if auth_token.expiry is not None:
        timeout = max(1, int((auth_token.expiry - now).total_seconds()))
    cache.set(key, now, timeout=timeout)
    if not cache_degraded(cache):
        _remember_recorded(auth_token.digest, now.timestamp())


def _remember_recorded(digest: str, timestamp: float) -> None:
    if len(_recorded_here) > 10_000:  # bounded: a long-lived worker sees many tokens
        _recorded_here.clear()
    _recorded_here[digest] = timestamp


AUTH_KEY = "accounts:token:auth:{digest}"


def auth_key(digest: str) -> str:
    return AUTH_KEY.format(digest=digest)


def forget_tokens(digests) -> None:
    """Drop the cached identity of these tokens (their next use reads the database again)."""
    keys = [auth_key(digest) for digest in digests]
    if keys:
        cache.delete_many(keys)


def _remember(digest: str, user, auth_token) -> None:
    timeout = settings.API_AUTH_CACHE_SECONDS
    if auth_token.expiry is not None:
        timeout = min(timeout, int((auth_token.expiry - timezone.now()).total_seconds()))
    if timeout <= 0:
        return
    # The permission sets ModelBackend keeps on the user object travel with it, so a cached
    # user answers has_perm() without the two permission queries.
    ModelBackend().get_all_permissions(user)
    cache.set(auth_key(digest), (user, auth_token), timeout=timeout)


def _recall(digest: str):
    try:
        cached = cache.get(auth_key(digest))
    except Exception:  # the cache is an optimisation: without it, authenticate the long way
        logger.warning("Could not read the authentication cache", exc_info=True)
        return None
    if cached is None:
        return None
    user, auth_token = cached
    if auth_token.expiry is not None and auth_token.expiry <= timezone.now():
        return None  # expired: knox's own path refuses it and deletes it
    return user, auth_token


def last_used(digests) -> dict:
    """``{digest: datetime}`` for the tokens the cache remembers using."""
    keys = {last_used_key(digest): digest for digest in digests}
    return {keys[key]: value for key, value in cache.get_many(list(keys)).items()}


class TokenAuthentication(KnoxTokenAuthentication):
    def authenticate_credentials(self, token):
        # A header that is not ASCII or carries a NUL would reach the decoder and the
        # database as is; it is simply not a token.
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not text.isprintable():
            raise exceptions.AuthenticationFailed("Invalid token.")
        try:
            digest = hash_token(text)
        except (TypeError, ValueError):
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        found = _recall(digest)
        if found is None:
            user, auth_token = super().authenticate_credentials(token)
            try:
                _remember(digest, user, auth_token)
            except Exception:
                logger.warning("Could not cache an API token's identity", exc_info=True)
        else:
            user, auth_token = found
        try:
            record_use(auth_token)
        except Exception:  # the mark is best effort: a cache hiccup must not refuse the request
            logger.warning("Could not record the use of an API token", exc_info=True)
        return user, auth_token


# The schema names this authentication like knox's own (drf-spectacular finds the class
# through this subclass when the module is imported, which ``accounts.apps`` does).
try:
    from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme

    class TokenScheme(KnoxTokenScheme):
        target_class = "accounts.auth.TokenAuthentication"
except ImportError:  # pragma: no cover - drf-spectacular is a runtime dependency
    pass
