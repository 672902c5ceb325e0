"""Token authentication: knox's, plus a "last used" mark per token and strict decoding.

The mark lives in the shared cache (``Django CACHES``), written at most once a minute per
token, so authenticating costs no database write; it is what ``GET /api/v1/auth/tokens/``
shows. A cache flush forgets it (the list then shows ``null`` until the next use).
"""

import logging

from django.core.cache import cache
from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions

logger = logging.getLogger(__name__)

LAST_USED_KEY = "accounts:token:last-used:{digest}"
LAST_USED_RESOLUTION_SECONDS = 60


def last_used_key(digest: str) -> str:
    return LAST_USED_KEY.format(digest=digest)


def record_use(auth_token) -> None:
    key = last_used_key(auth_token.digest)
    now = timezone.now()
    previous = cache.get(key)
    if previous is not None and (now - previous).total_seconds() < LAST_USED_RESOLUTION_SECONDS:
        return
    timeout = None
    if auth_token.expiry is not None:
        timeout = max(1, int((auth_token.expiry - now).total_seconds()))
    cache.set(key, now, timeout=timeout)


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
        user, auth_token = super().authenticate_credentials(token)
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
