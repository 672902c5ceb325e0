"""Writing webhook endpoints: create, update, disable and enable, rotate the secret, delete.

The API and the admin both call these. An endpoint's owner may subscribe only to the event types they may read
(``events.types.readable_types``); deliveries are planned with the same rule, so losing a permission later stops
them too. The secret is handed back only by ``endpoint_create`` and ``endpoint_rotate_secret`` (callers show it
once) and is never logged."""

from collections.abc import Iterable
from datetime import timedelta

from django.db import transaction

from core import clock, outbound
from core.errors import Invalid
from core.services import model_create, model_update

from . import webhooks
from .models import Delivery, DeliveryStatus, WebhookEndpoint
from .types import TYPES, readable_types

# After a rotation the old secret keeps signing (beside the new) this long, unless expired at once.
SECRET_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS_PER_OWNER = 20
DISABLED_BY_OWNER = "Disabled by its owner."
# The model field is blank=False, but an empty list is allowed (every type); the list is checked here instead.
TYPES_CHECKED_HERE = ("event_types",)


def sees_every_endpoint(user) -> bool:
    """Admins see and manage every endpoint; others only their own. Editing deliveries directly is given by no
    role pattern but Admin's, so it marks an operator who oversees all of them."""
    return bool(user and user.is_authenticated and (user.is_superuser or user.has_perm("events.change_delivery")))


def _clean_url(url: str) -> str:
    try:
        outbound.check_url(url)
    except outbound.OutboundRefused as exc:
        raise Invalid({"url": [str(exc)]}) from None
    return url


def _clean_event_types(owner, event_types: Iterable[str] | None) -> list[str]:
    if event_types is None:
        return []
    if isinstance(event_types, str) or not isinstance(event_types, Iterable):
        raise Invalid({"event_types": ["Enter a list of event types."]})
    wanted = list(dict.fromkeys(event_types))
    readable = set(readable_types(owner))
    unknown = [name for name in wanted if name not in TYPES]
    refused = [name for name in wanted if name in TYPES and name not in readable]
    messages = [f"Unknown event type: {name}." for name in unknown]
    messages += [f"The endpoint's owner may not read events of type {name}." for name in refused]
    if messages:
        raise Invalid({"event_types": messages})
    if not readable:
        raise Invalid({"event_types": ["The endpoint's owner may not read any event type."]})
    return wanted


@transaction.atomic
def endpoint_create(
    *, owner, url: str, event_types: Iterable[str] | None = None, description: str = "", is_active: bool = True
) -> WebhookEndpoint:
    """A new endpoint with a new secret (``endpoint.secret``: show it to the owner now; it is not shown again)."""
    types = _clean_event_types(owner, event_types)
    if WebhookEndpoint.objects.filter(owner=owner).count() >= MAX_ENDPOINTS_PER_OWNER:
        raise Invalid(f"An owner may have at most {MAX_ENDPOINTS_PER_OWNER} endpoints; delete one first.")
    now = clock.now()
    endpoint = model_create(
        model=WebhookEndpoint,
        data={
            "owner": owner,
            "url": url,
            "event_types": types,
            "description": description,
            "secret": webhooks.new_secret(),
            "is_active": is_active,
            "disabled_reason": "" if is_active else DISABLED_BY_OWNER,
            "created_at": now,
            "updated_at": now,
        },
        exclude=TYPES_CHECKED_HERE,
    )
    _clean_url(url)  # after the field checks, so a malformed URL gets the field's own message
    return endpoint


def _update(endpoint: WebhookEndpoint, data: dict) -> tuple[WebhookEndpoint, bool]:
    return model_update(instance=endpoint, data=data, exclude=TYPES_CHECKED_HERE)


def _locked(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return WebhookEndpoint.objects.select_for_update().select_related("owner").get(pk=endpoint.pk)


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change what was given; ``is_active`` disables or enables the endpoint as those services do."""
    endpoint = _locked(endpoint)
    data = {}
    if url is not None:
        data["url"] = url
    if event_types is not None:
        data["event_types"] = _clean_event_types(endpoint.owner, event_types)
    if description is not None:
        data["description"] = description
    if data:
        endpoint, changed = _update(endpoint, data)
        if "url" in data and changed:
            _clean_url(url)
        if changed:
            _touch(endpoint)
    if is_active is True and not endpoint.is_active:
        endpoint = endpoint_enable(endpoint=endpoint)
    elif is_active is False and endpoint.is_active:
        endpoint = endpoint_disable(endpoint=endpoint)
    return endpoint


def _touch(endpoint: WebhookEndpoint) -> None:
    endpoint.updated_at = clock.now()
    endpoint.save(update_fields=["updated_at"])


@transaction.atomic
def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str = DISABLED_BY_OWNER) -> WebhookEndpoint:
    """No more attempts to this endpoint; its pending deliveries wait (and are planned no more) until enabled."""
    endpoint = _locked(endpoint)
    if endpoint.is_active:
        endpoint, _ = _update(endpoint, {"is_active": False, "disabled_reason": reason[:300]})
        _touch(endpoint)
    return endpoint


@transaction.atomic
def endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Deliver to the endpoint again: the failure count starts over and the deliveries left pending are sent."""
    endpoint = _locked(endpoint)
    if endpoint.is_active:
        return endpoint
    endpoint, _ = _update(endpoint, {"is_active": True, "disabled_reason": "", "consecutive_failures": 0})
    _touch(endpoint)
    pending = list(
        Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING)
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[: webhooks.REQUEUE_BATCH]
    )
    transaction.on_commit(lambda: [webhooks.queue(delivery_id) for delivery_id in pending])
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, expire_previous: bool = False) -> WebhookEndpoint:
    """A new secret (``endpoint.secret``: show it once). The old one keeps signing beside it for
    ``SECRET_OVERLAP``, so the receiver can switch without losing a delivery, unless ``expire_previous``
    (a leaked secret) drops it at once."""
    endpoint = _locked(endpoint)
    now = clock.now()
    keep = not expire_previous
    endpoint, _ = _update(
        endpoint,
        {
            "previous_secret": endpoint.secret if keep else "",
            "previous_secret_expires_at": now + SECRET_OVERLAP if keep else None,
            "secret": webhooks.new_secret(),
            "updated_at": now,
        },
    )
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its deliveries and their attempts."""
    _locked(endpoint).delete()


def delivery_replay(*, delivery: Delivery) -> Delivery:
    """Send the delivery's event to its endpoint again (same ``webhook-id``); see ``webhooks.replay``."""
    return webhooks.replay(delivery)
