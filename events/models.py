"""The outbox (``Event``) and its delivery to webhooks (``WebhookEndpoint``, ``Delivery``, ``DeliveryAttempt``).

Services write an ``Event`` in the same transaction as the change it describes (``events.services.publish``), so
no event exists for a change rolled back and none is lost for a change committed. Its ``sequence`` is given after
commit, in commit order (``events.services.assign_sequences``): readers follow ``sequence``, never ``id``."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core import clock
from core.db.encrypted import EncryptedTextField


class Event(models.Model):
    id = models.BigAutoField(primary_key=True)
    # NULL until the sequencer numbers it, just after its transaction commits; unique once given.
    sequence = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    type = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, help_text='The changed object\'s model, e.g. "carriers.load".')
    object_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["type", "sequence"], name="event_type_sequence_idx"),
            models.Index(fields=["created_at"], name="event_created_at_idx"),
            # The sequencer's queue: the few events not numbered yet.
            models.Index(fields=["id"], condition=Q(sequence__isnull=True), name="event_unsequenced_idx"),
        ]

    def __str__(self):
        return f"#{self.sequence or '-'} {self.type} {self.object_type}:{self.object_id}"


class WebhookEndpoint(models.Model):
    """Where a client wants events pushed. The secret signs every delivery (Standard Webhooks) and is shown once,
    when the endpoint is created or its secret rotated."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    event_types = models.JSONField(default=list, help_text="The types delivered here; empty for every type.")
    description = models.CharField(max_length=200, blank=True)
    # Both secrets are stored encrypted (core.db.encrypted): the attributes are the plain whsec_... strings.
    secret = EncryptedTextField(editable=False)
    # After a rotation the old secret also signs, until this moment, so receivers can switch without losing
    # a delivery (Standard Webhooks: several signatures in one header). "" when there is none.
    previous_secret = EncryptedTextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(default=clock.now, editable=False)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One event to one endpoint: created with the event's sequence, retried until it succeeds or its retries run
    out. Every attempt carries the same ``webhook-id`` (the event's), so receivers can drop repeats."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="event_delivery_once_per_endpoint")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]

    def __str__(self):
        return f"{self.event} → {self.endpoint}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(default=clock.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True, help_text="The start of the answer's body.")
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self):
        return f"{self.delivery} attempt {self.number}"
