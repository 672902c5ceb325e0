"""Text stored encrypted at rest: ``EncryptedTextField``.

The attribute is the plain string in Python; the column holds a Fernet token (AES-128-CBC and HMAC-SHA256, from the
``cryptography`` package), so a database dump or a read-only SQL user sees no secret. ``None`` and ``""`` are stored
as they are ("no value" stays queryable and costs nothing).

Keys come from the setting ``FIELD_ENCRYPTION_KEYS`` (the environment variable of that name: comma-separated Fernet
keys, ``Fernet.generate_key()``). The first key encrypts; every key decrypts, so a new key is rotated in by putting
it first, running ``manage.py rotate_encrypted_fields`` (every value re-encrypted under it) and then dropping the
old one. When the setting is empty, one key is derived (HKDF-SHA256) from ``SECRET_KEY`` and from each of
``SECRET_KEY_FALLBACKS``: development and tests need nothing, and a ``SECRET_KEY`` rotated with the old one kept in
the fallbacks still reads (run the command before removing the fallback).

A stored value that decrypts with none of the keys raises ``FieldDecryptionError`` (an ``ImproperlyConfigured``):
never is ciphertext handed on as if it were the plain value. Lookups other than ``isnull`` and ``exact`` against
``""``/``None`` are refused (``FieldError``): the ciphertext of a value differs on every write, so nothing else
could match."""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models
from django.db.models.lookups import Exact, IsNull

HKDF_INFO = b"freight-ops field encryption"
SETTING = "FIELD_ENCRYPTION_KEYS"


class FieldDecryptionError(ImproperlyConfigured):
    """A stored value decrypts with none of the configured keys."""


# (the settings the keys were built from, the MultiFernet): rebuilt whenever those settings' values change.
_cache: tuple[tuple, MultiFernet] | None = None


def _configured_keys() -> list[str]:
    keys = getattr(settings, SETTING, None) or []
    if isinstance(keys, str):
        keys = keys.split(",")
    return [key.strip() for key in keys if key and key.strip()]


def _derived_key(secret: str | bytes) -> bytes:
    material = secret.encode() if isinstance(secret, str) else secret
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(material)
    return base64.urlsafe_b64encode(derived)


def _build(configured: list[str]) -> MultiFernet:
    if configured:
        fernets = []
        for position, key in enumerate(configured, start=1):
            try:
                fernets.append(Fernet(key))
            except ValueError:
                raise ImproperlyConfigured(
                    f"{SETTING}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes; "
                    "make one with cryptography.fernet.Fernet.generate_key())."
                ) from None
        return MultiFernet(fernets)
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(_derived_key(secret)) for secret in secrets if secret])


def fernet() -> MultiFernet:
    """The keys in force: the first encrypts, all decrypt."""
    global _cache
    configured = _configured_keys()
    fingerprint = (
        (tuple(configured),)
        if configured
        else (settings.SECRET_KEY, tuple(getattr(settings, "SECRET_KEY_FALLBACKS", [])))
    )
    cached = _cache
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    built = _build(configured)
    _cache = (fingerprint, built)
    return built


def encrypt(value: str) -> str:
    """The Fernet token of ``value`` under the first key."""
    return fernet().encrypt(value.encode()).decode("ascii")


def decrypt(token: str, *, what: str = "A stored value") -> str:
    """The plain text of ``token``; ``FieldDecryptionError`` when no key opens it."""
    try:
        return fernet().decrypt(token.encode()).decode()
    except (InvalidToken, UnicodeError):
        raise FieldDecryptionError(
            f"{what} decrypts with none of the keys in {SETTING} (when that is empty: the keys derived from "
            "SECRET_KEY and SECRET_KEY_FALLBACKS). Was it written under a key since removed, or is it plain text "
            "never encrypted?"
        ) from None


class EmptyOnlyExact(Exact):
    """``field=""`` and ``field=None`` only: any other value's ciphertext could never be matched."""

    def get_prep_lookup(self):
        if not hasattr(self.rhs, "resolve_expression") and self.rhs not in ("", None):
            raise FieldError(
                f"{self.lhs.output_field.__class__.__name__} is encrypted: it can be compared only with '' or None."
            )
        return super().get_prep_lookup()


class EncryptedTextField(models.TextField):
    """A ``TextField`` whose column holds a Fernet token of the value (see the module's docstring)."""

    description = "Text, encrypted at rest (Fernet)"

    def _what(self) -> str:
        model = getattr(self, "model", None)
        return f"A value of {model._meta.label}.{self.name}" if model is not None else "A stored value"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value, what=self._what())

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name == "exact":
            return EmptyOnlyExact
        if lookup_name == "isnull":
            return IsNull
        return None  # Django answers "Unsupported lookup ... for EncryptedTextField"

    def get_transform(self, lookup_name):
        return None
