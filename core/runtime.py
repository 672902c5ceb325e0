"""Runtime settings: values operators tune in the admin without a redeploy.

Each app declares its keys with ``define()`` (in its ``AppConfig.ready``); the default is
the Django setting of the same name, which comes from the environment. ``get(key)``
returns the stored override if there is one, else that default. Overrides are read from
the cache, which is cleared whenever a ``RuntimeSetting`` row changes.

How soon a change is seen: the cache is shared by every worker in production (Redis,
``CACHE_URL``), and a change clears it when its transaction commits, so every worker reads
the new value on its next ``get()``. ``RUNTIME_SETTINGS_CACHE_SECONDS`` bounds the delay
only if that invalidation were lost (or with a per-process cache, as in development).

Without the cache (Redis unreachable, ``core.fastpaths.cache``) the overrides are read from the
database, once per request, and defaults from the environment as always; an invalidation made
meanwhile is replayed by the cache backend when Redis is back.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError

CACHE_KEY = "core:runtime-settings:v1"
MAX_LIST_LENGTH = 20


@dataclass(frozen=True)
class Spec:
    key: str
    kind: type  # int, float, bool, or tuple (a list of floats)
    description: str
    minimum: float | None = None
    maximum: float | None = None

    @property
    def default(self):
        return getattr(settings, self.key)

    def validate(self, value):
        if self.kind is tuple:
            return self._validate_list(value)
        return self._validate_number(value, self.kind)

    def _validate_number(self, value, kind):
        if kind is bool:
            if not isinstance(value, bool):
                raise ValidationError("Must be true or false.")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValidationError(f"Must be a number ({kind.__name__}).")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValidationError(f"Must be a number ({kind.__name__}).") from None
        if not number.is_finite():
            raise ValidationError("Must be a finite number.")
        if kind is int:
            if number != number.to_integral_value():
                raise ValidationError("Must be a whole number.")
            value = int(number)
        else:
            value = float(number)
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"Must be at least {self.minimum}.")
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(f"Must be at most {self.maximum}.")
        return value

    def _validate_list(self, value):
        """A list of numbers (``tuple`` kind): a JSON list, or "3, 6, 9" as the environment
        writes one; each number within the bounds. Returned as a tuple of floats."""
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if not isinstance(value, list | tuple) or not value or len(value) > MAX_LIST_LENGTH:
            raise ValidationError(f"Must be a list of 1 to {MAX_LIST_LENGTH} numbers, e.g. [3, 6, 9].")
        numbers = []
        for position, item in enumerate(value, start=1):
            try:
                numbers.append(self._validate_number(item, float))
            except ValidationError as exc:
                raise ValidationError(f"Item {position}: {' '.join(exc.messages)}") from None
        return tuple(numbers)


_specs: dict[str, Spec] = {}


def define(key, kind, description, minimum=None, maximum=None) -> Spec:
    spec = Spec(key, kind, description, minimum, maximum)
    _specs[key] = spec
    return spec


def specs() -> dict[str, Spec]:
    return dict(_specs)


def validate(key, value):
    """Return the value in its proper type; raise KeyError for an unknown key and
    ValidationError for a bad value."""
    return _specs[key].validate(value)


# Set for the length of a request (core.middleware.RequestContextMiddleware): the overrides are
# read from the cache once, and the request sees one set of values (a negotiation round reads
# several of them).
_read_once: ContextVar[dict | None] = ContextVar("runtime_read_once", default=None)


@contextmanager
def read_once():
    token = _read_once.set({})
    try:
        yield
    finally:
        _read_once.reset(token)


def _overrides() -> dict:
    held = _read_once.get()
    if held is None:
        return _read_overrides()
    if "overrides" not in held:
        held["overrides"] = _read_overrides()
    return held["overrides"]


def _read_overrides() -> dict:
    overrides = cache.get(CACHE_KEY)
    if overrides is None:
        from .models import RuntimeSetting

        overrides = dict(RuntimeSetting.objects.values_list("key", "value"))
        cache.set(CACHE_KEY, overrides, settings.RUNTIME_SETTINGS_CACHE_SECONDS)
    return overrides


def get(key):
    spec = _specs[key]
    overrides = _overrides()
    if key in overrides:
        try:
            return spec.validate(overrides[key])
        except ValidationError:
            pass  # a row written around the admin's validation; fall back to the default
    return spec.default


def clear_cache():
    cache.delete(CACHE_KEY)
    held = _read_once.get()
    if held is not None:  # changed during this request: read again
        held.pop("overrides", None)
