"""Webhooks (push): events delivered to the endpoints clients registered, signed per Standard Webhooks.

How a delivery travels (docs/events.md, "Webhooks"):

* ``events.services.assign_sequences`` plans one ``Delivery`` per new event and active endpoint that wants its type
  and whose owner may read it, and after commit ``queue()`` sends one ``events.deliver`` job per delivery. The
  request that made the change never calls out: delivery happens on the workers, one job per delivery, so a slow or
  dead receiver holds up only its own job.
* ``attempt()`` (the job) claims the delivery in a short transaction, POSTs through ``core.outbound`` with no
  transaction open, then records the ``DeliveryAttempt`` and the outcome in another short transaction. A failure
  is tried again after ``WEBHOOK_RETRY_SECONDS[n - 1]`` (+ up to 20 % jitter), sent with a countdown, never by
  sleeping; after the last the delivery is failed. ``WEBHOOK_DISABLE_AFTER_FAILURES`` deliveries in a row failed
  for good disable the endpoint, with the reason.
* A job arriving early or twice (eager mode, a message the broker redelivered, the beat job's copy) finds the
  delivery not due or not pending under the row lock and does nothing, so every job is safe to repeat.
* The broker being down costs nothing but time: ``queue()`` logs and leaves the delivery pending, and
  ``requeue_due()`` (``events.requeue_due_deliveries``, every minute on beat) sends the due ones again.

Every attempt of one event to one endpoint carries the same ``webhook-id`` (``evt_<sequence>``), replays included,
so receivers can drop repeats. Secrets are never logged, stored in an attempt or shown after create and rotate.
"""

import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import OuterRef, Subquery

from core import clock, outbound
from core.db.locks import lock_rows
from core.errors import Conflict

from .models import Delivery, DeliveryAttempt, DeliveryStatus, Event, WebhookEndpoint
from .types import readable_types

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"
USER_AGENT = "freight-ops-webhooks/1"
# Retry delays get up to this share on top, so receivers coming back are not hit by every endpoint at once.
JITTER = 0.2
RESPONSE_EXCERPT_CHARS = 500
# Only the start of an answer is read (and kept): a receiver cannot make a worker read megabytes.
RESPONSE_READ_BYTES = 4096
# A job may arrive this much before its delivery is due (clocks of the worker and the scheduler differ).
DUE_TOLERANCE = timedelta(seconds=1)
# The beat job queues a due delivery again only once it has waited this long for its own message.
REQUEUE_AFTER = timedelta(seconds=60)
REQUEUE_BATCH = 1000


# --- Signing (Standard Webhooks) ------------------------------------------------------------------------------


def new_secret() -> str:
    """A new signing secret, in Standard Webhooks form: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """``v1,<base64 HMAC-SHA256>`` of ``"{msg_id}.{timestamp}.{body}"`` with the key ``secret`` stands for."""
    payload = body.encode() if isinstance(body, str) else bytes(body)
    content = f"{msg_id}.{int(timestamp)}.".encode() + payload
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def message_id(event: Event) -> str:
    """The ``webhook-id`` of an event: the same on every attempt and replay, to every endpoint."""
    return f"evt_{event.sequence}"


def body(event: Event) -> bytes:
    """What is POSTed: the event's type, when it happened, and its payload with its sequence and object."""
    data = {**event.payload, "sequence": event.sequence, "object_id": event.object_id}
    document = {"type": event.type, "timestamp": event.created_at.isoformat(), "data": data}
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False).encode()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap after a rotation lasts."""
    found = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        found.append(endpoint.previous_secret)
    return found


def headers(endpoint: WebhookEndpoint, event: Event, payload: bytes, now: datetime) -> dict[str, str]:
    msg_id, timestamp = message_id(event), int(now.timestamp())
    signatures = " ".join(sign(secret, msg_id, timestamp, payload) for secret in signing_secrets(endpoint, now))
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


# --- Queueing -------------------------------------------------------------------------------------------------


def queue(delivery_id: int, *, countdown: float | None = None) -> bool:
    """Send the delivery's job to the workers (after ``countdown`` seconds). If the broker does not answer the
    delivery stays pending, and the beat job (``requeue_due``) sends it again once the broker answers."""
    from kombu.exceptions import OperationalError

    from .tasks import deliver

    try:
        deliver.apply_async(args=[delivery_id], countdown=countdown)
    except (OperationalError, ConnectionError, OSError) as exc:
        logger.warning(
            "webhook delivery %s: the job broker did not answer (%s); the beat job sends it again once it does",
            delivery_id,
            type(exc).__name__,
        )
        return False
    return True


def requeue_due(*, now: datetime | None = None, limit: int = REQUEUE_BATCH) -> int:
    """Queue again the pending deliveries to active endpoints that are due since ``REQUEUE_AFTER`` or longer (their
    message was lost, or never sent). A copy that meets its own message costs one locked read: the second finds
    the delivery not due or not pending. Returns how many were queued."""
    now = now or clock.now()
    due = list(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now - REQUEUE_AFTER,
            endpoint__is_active=True,
        )
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    return sum(queue(delivery_id) for delivery_id in due)


# --- Attempts -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    number: int  # the attempt's number within the delivery's current cycle (1 = first try)
    url: str
    payload: bytes
    headers: dict
    at: datetime


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    latency_ms: int | None = None
    excerpt: str = ""
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def summary(self) -> str:
        return f"HTTP {self.status_code}" if self.status_code is not None else self.error or "no answer"


def _lease() -> timedelta:
    # Longer than any attempt can take (each of connect, write, read may use the timeout), so no second job
    # starts on the delivery while this one waits for its answer; a worker that died frees it after this.
    return timedelta(seconds=4 * min(settings.WEBHOOK_TIMEOUT_SECONDS, outbound.MAX_TIMEOUT_SECONDS) + 30)


def _locked(delivery_id: int) -> Delivery | None:
    return lock_rows(Delivery.objects.select_related("event", "endpoint__owner").filter(pk=delivery_id)).first()


def _claim(delivery_id: int) -> Claim | None:
    """Take the delivery for one attempt, or None when there is nothing to do now."""
    with transaction.atomic():
        delivery = _locked(delivery_id)
        now = clock.now()
        if delivery is None or delivery.status != DeliveryStatus.PENDING or not delivery.endpoint.is_active:
            return None
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + DUE_TOLERANCE:
            return None  # early: a retry's job run eagerly, or a copy of a job that already ran
        endpoint, event = delivery.endpoint, delivery.event
        if event.type not in readable_types(endpoint.owner):
            # The owner lost the permission (or the account) since the delivery was planned: never send it.
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            delivery.save(update_fields=["status", "next_attempt_at"])
            logger.info("webhook delivery %s: the endpoint's owner may no longer read %s", delivery.pk, event.type)
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + _lease()
        delivery.save(update_fields=["attempts", "next_attempt_at"])
        payload = body(event)
        return Claim(delivery.pk, delivery.attempts, endpoint.url, payload, headers(endpoint, event, payload, now), now)


def _read_excerpt(response, deadline: float) -> str:
    received = b""
    for chunk in response.iter_bytes():
        received += chunk
        if len(received) >= RESPONSE_READ_BYTES or time.monotonic() > deadline:
            break
    # NUL cannot be stored in PostgreSQL text; the excerpt is for people reading the log.
    return received.decode("utf-8", errors="replace").replace("\x00", "")[:RESPONSE_EXCERPT_CHARS]


def _post(claim: Claim) -> Outcome:
    """One POST through the outbound guard; every failure becomes an ``Outcome`` (the error's class only)."""
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    started = time.monotonic()
    status_code, excerpt = None, ""
    try:
        # The worker's shared client: the TLS context is built once per process and connections to a receiver are
        # kept alive between deliveries; every new connection is vetted by the guard (core.outbound.shared_client).
        client = outbound.shared_client(timeout=timeout)
        with client.stream("POST", claim.url, content=claim.payload, headers=claim.headers) as response:
            status_code = response.status_code
            excerpt = _read_excerpt(response, started + timeout)
    except outbound.OutboundRefused as exc:
        return Outcome(error=f"refused: {exc.reason}")
    except Exception as exc:  # any failure is the attempt's outcome; only its class is kept
        if status_code is None:
            return Outcome(latency_ms=_elapsed_ms(started), error=type(exc).__name__)
        # The answer's status arrived; its body did not finish. The status decides.
    return Outcome(status_code=status_code, latency_ms=_elapsed_ms(started), excerpt=excerpt)


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def attempt(delivery_id: int) -> str:
    """One attempt of a delivery (the ``events.deliver`` job). Returns what happened: ``skipped``, ``succeeded``,
    ``retrying`` or ``failed``. Safe to run more than once for the same delivery."""
    claim = _claim(delivery_id)
    if claim is None:
        return "skipped"
    return _record(claim, _post(claim))


def _retry_delay(number: int) -> float | None:
    """Seconds before the next attempt after attempt ``number`` failed, or None when the retries have run out."""
    schedule = settings.WEBHOOK_RETRY_SECONDS
    if number > len(schedule):
        return None
    delay = float(schedule[number - 1])
    return delay + random.uniform(0, JITTER * delay)  # spreads load; not a secret


def _locked_for_record(delivery_id: int) -> Delivery | None:
    """The delivery under its row lock, without its event or endpoint; ``endpoint_failures`` is the endpoint's
    ``consecutive_failures`` read without locking the endpoint (a subquery: MySQL's FOR UPDATE does not lock the rows
    a subquery reads, PostgreSQL locks only the delivery's row here)."""
    failures = WebhookEndpoint.objects.filter(pk=OuterRef("endpoint_id")).values("consecutive_failures")[:1]
    return lock_rows(Delivery.objects.filter(pk=delivery_id).annotate(endpoint_failures=Subquery(failures))).first()


def _locked_endpoint(endpoint_id: int) -> WebhookEndpoint:
    return lock_rows(WebhookEndpoint.objects.filter(pk=endpoint_id)).get()


def _record(claim: Claim, outcome: Outcome) -> str:
    with transaction.atomic():
        delivery = _locked_for_record(claim.delivery_id)
        if delivery is None:  # the endpoint or the event was deleted meanwhile
            return "skipped"
        # Read after the lock is held (a statement of its own), so it sees every attempt logged before: the log's
        # numbers run on across replays, which ``attempts`` (the current cycle's) does not.
        last = delivery.attempt_log.order_by("-number").values_list("number", flat=True).first() or 0
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=last + 1,
            attempted_at=claim.at,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.excerpt,
            error=outcome.error[:200],
        )
        if delivery.status != DeliveryStatus.PENDING or delivery.attempts != claim.number:
            return "skipped"  # replayed or changed meanwhile: the attempt is logged, the new cycle goes on
        now = clock.now()
        delivery.last_status_code = outcome.status_code
        if outcome.succeeded:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, now, None
            delivery.save(update_fields=["status", "delivered_at", "next_attempt_at", "last_status_code"])
            # The endpoint is locked (and written) only when its count of failures must go back to 0. Read as 0
            # without the lock, a failure committed meanwhile by another delivery counts as coming after this
            # success: a valid order of two overlapping transactions, and this one writes nothing to the endpoint.
            if delivery.endpoint_failures:
                endpoint = _locked_endpoint(delivery.endpoint_id)
                if endpoint.consecutive_failures:
                    endpoint.consecutive_failures = 0
                    endpoint.save(update_fields=["consecutive_failures"])
            return "succeeded"
        delay = _retry_delay(claim.number)
        if delay is not None:
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            delivery.save(update_fields=["next_attempt_at", "last_status_code"])
            delivery_id = delivery.pk
            transaction.on_commit(lambda: queue(delivery_id, countdown=delay))
            return "retrying"
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        delivery.save(update_fields=["status", "next_attempt_at", "last_status_code"])
        _count_failure(_locked_endpoint(delivery.endpoint_id), outcome, now)
        return "failed"


def _count_failure(endpoint: WebhookEndpoint, outcome: Outcome, now: datetime) -> None:
    """A delivery failed for good: one more in a row; at the limit the endpoint is disabled, saying why."""
    endpoint.consecutive_failures += 1
    fields = ["consecutive_failures"]
    limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
    if endpoint.is_active and limit and endpoint.consecutive_failures >= limit:
        endpoint.is_active = False
        endpoint.disabled_reason = (
            f"Disabled on {now:%Y-%m-%d %H:%M} UTC after {endpoint.consecutive_failures} deliveries in a row "
            f"failed every attempt (the last answer: {outcome.summary()}). Fix the receiver, then enable it; "
            "failed deliveries can be replayed."
        )[:300]
        endpoint.updated_at = now
        fields += ["is_active", "disabled_reason", "updated_at"]
        logger.warning("webhook endpoint %s disabled after %s failed deliveries", endpoint.pk, limit)
    endpoint.save(update_fields=fields)


# --- Replay ---------------------------------------------------------------------------------------------------


def replay(delivery: Delivery) -> Delivery:
    """Deliver the event to the endpoint again, as a new cycle of attempts with the same ``webhook-id``.
    ``Conflict`` while the delivery is still being tried, or when the endpoint is disabled."""
    with transaction.atomic():
        delivery = _locked(delivery.pk)
        if delivery is None:
            raise Conflict("This delivery no longer exists.", code="delivery_gone")
        if delivery.status == DeliveryStatus.PENDING:
            raise Conflict("This delivery is still being tried; replay it once it has ended.", code="delivery_pending")
        if not delivery.endpoint.is_active:
            raise Conflict("The endpoint is disabled; enable it before replaying.", code="endpoint_disabled")
        if delivery.event.type not in readable_types(delivery.endpoint.owner):
            raise Conflict("The endpoint's owner may no longer read this event's type.", code="type_not_readable")
        delivery.status, delivery.attempts = DeliveryStatus.PENDING, 0
        delivery.next_attempt_at, delivery.delivered_at = clock.now(), None
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "delivered_at"])
        delivery_id = delivery.pk
        transaction.on_commit(lambda: queue(delivery_id))
    return delivery
