from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length, Upper
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone

from core.models import AliveManager, BaseModel, SoftDeleteModel, SoftDeleteQuerySet

from .choices import (
    CARRIER_HELD_STATUSES,
    CallOutcome,
    EquipmentType,
    FollowUpReason,
    LoadStatus,
    LookupOutcome,
    NegotiationStatus,
    OfferDecision,
    Sentiment,
    USState,
    VerificationSource,
)

MONEY = {"max_digits": 10, "decimal_places": 2}
CENT = Decimal("0.01")


class Carrier(SoftDeleteModel):
    """A trucking company, keyed by its MC (docket) number, with the last FMCSA answer."""

    mc_number = models.CharField("MC number", max_length=8, help_text="Digits only, 1–8 of them.")
    dot_number = models.PositiveBigIntegerField("USDOT number", null=True, blank=True, db_index=True)
    legal_name = models.CharField(max_length=255, blank=True)
    dba_name = models.CharField("DBA name", max_length=255, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)

    # The last verification, as FMCSA answered it.
    allowed_to_operate = models.BooleanField(null=True, blank=True, editable=False)
    status_code = models.CharField("USDOT status", max_length=1, blank=True, editable=False)
    out_of_service_date = models.DateField(null=True, blank=True, editable=False)
    safety_rating = models.CharField(max_length=1, blank=True, editable=False)
    eligible = models.BooleanField(default=False, editable=False, db_index=True)
    ineligibility_reasons = models.JSONField(default=list, blank=True, editable=False)
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    verification_source = models.CharField(
        max_length=20, choices=VerificationSource.choices, blank=True, editable=False
    )
    fmcsa_data = models.JSONField("FMCSA answer", null=True, blank=True, editable=False)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["mc_number"]
        permissions = [("verify_carrier", "Can verify a carrier with FMCSA")]
        constraints = [
            models.UniqueConstraint(
                fields=["mc_number"], condition=Q(deleted_at__isnull=True), name="carrier_mc_unique_alive"
            ),
            models.CheckConstraint(
                condition=Q(GreaterThanOrEqual(Length("mc_number"), 1)) & Q(LessThanOrEqual(Length("mc_number"), 8)),
                name="carrier_mc_length",
            ),
        ]

    def __str__(self):
        return f"MC{self.mc_number} {self.legal_name}".strip()


class LoadQuerySet(SoftDeleteQuerySet):
    def available(self):
        return self.filter(status=LoadStatus.AVAILABLE)


class AliveLoadManager(AliveManager.from_queryset(LoadQuerySet)):
    pass


class Load(SoftDeleteModel):
    """A shipment the broker posts. ``loadboard_rate`` is what the broker offers to pay;
    ``max_rate`` is the most it will go to (never shown to carriers); ``agreed_rate`` is what
    was settled with ``booked_carrier``."""

    load_id = models.CharField("load ID", max_length=32, help_text="The broker's reference, e.g. L-10042.")
    origin_city = models.CharField(max_length=100)
    origin_state = models.CharField(max_length=2, choices=USState.choices)
    destination_city = models.CharField(max_length=100)
    destination_state = models.CharField(max_length=2, choices=USState.choices)
    pickup_datetime = models.DateTimeField()
    delivery_datetime = models.DateTimeField()
    equipment_type = models.CharField(max_length=20, choices=EquipmentType.choices)
    loadboard_rate = models.DecimalField(**MONEY, help_text="Posted rate in USD, what the broker offers to pay.")
    max_rate = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Ceiling in USD; empty means the posted rate plus NEGOTIATION_CEILING_PCT.",
    )
    agreed_rate = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    booked_carrier = models.ForeignKey(
        Carrier, null=True, blank=True, editable=False, on_delete=models.PROTECT, related_name="booked_loads"
    )
    booked_at = models.DateTimeField(null=True, blank=True, editable=False)
    status = models.CharField(max_length=20, choices=LoadStatus.choices, default=LoadStatus.AVAILABLE)
    weight = models.PositiveIntegerField(help_text="Pounds.")
    commodity_type = models.CharField(max_length=100, blank=True)
    num_of_pieces = models.PositiveIntegerField(null=True, blank=True)
    miles = models.PositiveIntegerField(null=True, blank=True)
    dimensions = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)

    objects = AliveLoadManager()
    all_objects = models.Manager.from_queryset(LoadQuerySet)()

    class Meta(SoftDeleteModel.Meta):
        ordering = ["pickup_datetime", "load_id"]
        permissions = [("view_load_ceiling", "Can see the broker's ceiling rate")]
        constraints = [
            models.UniqueConstraint(
                fields=["load_id"], condition=Q(deleted_at__isnull=True), name="load_id_unique_alive"
            ),
            models.CheckConstraint(condition=Q(loadboard_rate__gt=0), name="load_posted_rate_positive"),
            models.CheckConstraint(
                condition=Q(max_rate__isnull=True) | Q(max_rate__gte=F("loadboard_rate")),
                name="load_ceiling_not_below_posted",
            ),
            models.CheckConstraint(
                condition=Q(agreed_rate__isnull=True) | Q(agreed_rate__gt=0), name="load_agreed_rate_positive"
            ),
            models.CheckConstraint(
                condition=Q(agreed_rate__isnull=True) | Q(max_rate__isnull=True) | Q(agreed_rate__lte=F("max_rate")),
                name="load_agreed_not_above_ceiling",
            ),
            models.CheckConstraint(
                condition=Q(delivery_datetime__gt=F("pickup_datetime")), name="load_delivery_after_pickup"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=CARRIER_HELD_STATUSES)
                | Q(booked_carrier__isnull=False, agreed_rate__isnull=False),
                name="load_booked_has_carrier_and_rate",
            ),
            models.CheckConstraint(
                condition=~Q(status=LoadStatus.AVAILABLE) | Q(booked_carrier__isnull=True, agreed_rate__isnull=True),
                name="load_available_has_no_carrier",
            ),
            models.CheckConstraint(condition=Q(status__in=LoadStatus.values), name="load_status_valid"),
            models.CheckConstraint(condition=Q(equipment_type__in=EquipmentType.values), name="load_equipment_valid"),
            models.CheckConstraint(
                condition=Q(origin_state__in=USState.values) & Q(destination_state__in=USState.values),
                name="load_state_codes_valid",
            ),
            models.CheckConstraint(condition=Q(weight__gt=0), name="load_weight_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "pickup_datetime"], name="load_status_pickup_idx"),
            models.Index(fields=["origin_state", "status", "pickup_datetime"], name="load_origin_search_idx"),
            models.Index(fields=["destination_state", "status", "pickup_datetime"], name="load_dest_search_idx"),
            models.Index(fields=["equipment_type", "status", "pickup_datetime"], name="load_equipment_search_idx"),
            models.Index(fields=["status", "loadboard_rate"], name="load_status_rate_idx"),
            models.Index(fields=["booked_at"], name="load_booked_at_idx"),
            # The admin's changelist order.
            models.Index(fields=["pickup_datetime", "load_id"], name="load_pickup_idx"),
            # Lane rates: a lane's bookings in a period, read from the index alone on PostgreSQL.
            models.Index(
                fields=["origin_state", "destination_state", "equipment_type", "booked_at"],
                include=["agreed_rate", "loadboard_rate", "miles", "status"],
                name="load_lane_booked_idx",
                condition=Q(agreed_rate__isnull=False),
            ),
            # City search is case-insensitive (iexact compares UPPER(...)).
            models.Index(Upper("origin_city"), name="load_origin_city_upper_idx"),
            models.Index(Upper("destination_city"), name="load_dest_city_upper_idx"),
        ]

    def __str__(self):
        return f"{self.load_id} {self.origin_city}, {self.origin_state} → {self.destination_city}, {self.destination_state}"

    @staticmethod
    def rule_errors(values) -> dict[str, list[str]]:
        """Messages by field for a load's values (a mapping by field name) that break the load's own
        rules (the database's check constraints hold them too); empty when none does. ``clean()``
        applies them to an instance; ``carriers.services.loads_import`` to many rows' values at once,
        without building an instance for each."""
        errors = {}
        pickup, delivery = values.get("pickup_datetime"), values.get("delivery_datetime")
        if pickup and delivery and delivery <= pickup:
            errors["delivery_datetime"] = ["Delivery must be after pickup."]
        posted, ceiling = values.get("loadboard_rate"), values.get("max_rate")
        if ceiling is not None and posted is not None and ceiling < posted:
            errors["max_rate"] = ["The ceiling cannot be below the posted rate."]
        return errors

    def clean(self):
        """The load's own rules (``rule_errors``); ``carriers.services`` applies them to every write."""
        names = ("pickup_datetime", "delivery_datetime", "loadboard_rate", "max_rate")
        errors = self.rule_errors({name: getattr(self, name) for name in names})
        if errors:
            raise ValidationError(errors)

    def ceiling(self, ceiling_pct: float) -> Decimal:
        """The most the broker will pay: ``max_rate`` if set, else posted rate plus ``ceiling_pct``."""
        if self.max_rate is not None:
            return self.max_rate
        raw = self.loadboard_rate * (Decimal(1) + Decimal(str(ceiling_pct)) / 100)
        return raw.quantize(CENT, rounding=ROUND_DOWN)


class Negotiation(BaseModel):
    """One carrier's rate negotiation on one load; its rounds are ``Offer`` rows."""

    load = models.ForeignKey(Load, on_delete=models.PROTECT, related_name="negotiations")
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, related_name="negotiations")
    status = models.CharField(max_length=20, choices=NegotiationStatus.choices, default=NegotiationStatus.OPEN)
    rounds_used = models.PositiveSmallIntegerField(default=0)
    last_counter = models.DecimalField(**MONEY, null=True, blank=True)
    agreed_rate = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["load", "carrier"], name="negotiation_one_per_carrier_per_load"),
            models.CheckConstraint(
                condition=Q(last_counter__isnull=True) | Q(last_counter__gt=0), name="negotiation_counter_positive"
            ),
            models.CheckConstraint(
                condition=~Q(status=NegotiationStatus.BOOKED) | Q(agreed_rate__isnull=False),
                name="negotiation_booked_has_rate",
            ),
            models.CheckConstraint(condition=Q(status__in=NegotiationStatus.values), name="negotiation_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="negotiation_status_created_idx")]

    def __str__(self):
        return f"{self.load.load_id} / MC{self.carrier.mc_number}"


class Call(BaseModel):
    """A finished inbound call as the voice platform reports it. Append-only."""

    external_id = models.CharField(max_length=100, unique=True, help_text="The voice platform's id for the call.")
    mc_number = models.CharField("MC number", max_length=8, blank=True, db_index=True)
    carrier = models.ForeignKey(Carrier, null=True, blank=True, on_delete=models.PROTECT, related_name="calls")
    load = models.ForeignKey(Load, null=True, blank=True, on_delete=models.PROTECT, related_name="calls")
    started_at = models.DateTimeField()
    duration_seconds = models.PositiveIntegerField()
    outcome = models.CharField(max_length=30, choices=CallOutcome.choices)
    sentiment = models.CharField(max_length=20, choices=Sentiment.choices)
    summary = models.TextField(blank=True)
    transcript = models.TextField(blank=True)
    extracted = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(outcome__in=CallOutcome.values), name="call_outcome_valid"),
            models.CheckConstraint(condition=Q(sentiment__in=Sentiment.values), name="call_sentiment_valid"),
        ]
        indexes = [
            models.Index(fields=["started_at"], name="call_started_idx"),
            models.Index(fields=["outcome", "started_at"], name="call_outcome_started_idx"),
            models.Index(fields=["sentiment", "started_at"], name="call_sentiment_started_idx"),
        ]

    def __str__(self):
        return f"{self.external_id} ({self.get_outcome_display()})"


class Offer(BaseModel):
    """One round of a negotiation: the carrier's ask and what we decided. Append-only."""

    negotiation = models.ForeignKey(Negotiation, on_delete=models.PROTECT, related_name="offers")
    round = models.PositiveSmallIntegerField()
    amount = models.DecimalField(**MONEY, help_text="The carrier's ask in USD.")
    decision = models.CharField(max_length=10, choices=OfferDecision.choices)
    counter_amount = models.DecimalField(**MONEY, null=True, blank=True)
    agreed_amount = models.DecimalField(**MONEY, null=True, blank=True)
    call_external_id = models.CharField(max_length=100, blank=True, db_index=True)
    call = models.ForeignKey(Call, null=True, blank=True, on_delete=models.PROTECT, related_name="offers")

    class Meta:
        ordering = ["negotiation", "round"]
        constraints = [
            models.UniqueConstraint(fields=["negotiation", "round"], name="offer_one_per_round"),
            models.CheckConstraint(condition=Q(round__gte=1), name="offer_round_positive"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="offer_amount_positive"),
            models.CheckConstraint(condition=Q(decision__in=OfferDecision.values), name="offer_decision_valid"),
            models.CheckConstraint(
                condition=Q(decision=OfferDecision.COUNTER, counter_amount__isnull=False, agreed_amount__isnull=True)
                | Q(decision=OfferDecision.ACCEPT, counter_amount__isnull=True, agreed_amount__isnull=False)
                | Q(decision=OfferDecision.REJECT, counter_amount__isnull=True, agreed_amount__isnull=True),
                name="offer_decision_amounts_consistent",
            ),
        ]

    def __str__(self):
        return f"round {self.round}: {self.amount} → {self.decision}"


class FollowUp(BaseModel):
    """Something a rep must do after a call: when, why, who; done once it is done."""

    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="follow_ups")
    due_at = models.DateTimeField()
    reason = models.CharField(max_length=20, choices=FollowUpReason.choices)
    note = models.TextField(blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    done_at = models.DateTimeField(null=True, blank=True, editable=False)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    due_announced_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When follow_up.due was published for the current due time; empty until then.",
    )

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(reason__in=FollowUpReason.values), name="follow_up_reason_valid"),
        ]
        indexes = [
            # A rep's due list, and the count of overdue ones: open follow-ups by due time.
            models.Index(
                fields=["assigned_to", "due_at"], name="follow_up_open_due_idx", condition=Q(done_at__isnull=True)
            ),
            # The minute sweep's queue (carriers.services.follow_ups_announce_due): open, not announced yet.
            models.Index(
                fields=["due_at"],
                name="follow_up_unannounced_idx",
                condition=Q(done_at__isnull=True, due_announced_at__isnull=True),
            ),
        ]

    def __str__(self):
        return f"{self.get_reason_display()} due {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


class VerificationLookup(models.Model):
    """One question put to FMCSA (stored answers reused from the cache are not lookups) and how it
    went. Append-only; ``manage.py prune_verification_log`` removes old rows."""

    looked_up_at = models.DateTimeField(default=timezone.now, db_index=True)
    mc_number = models.CharField("MC number", max_length=8, db_index=True)
    outcome = models.CharField(max_length=20, choices=LookupOutcome.choices)
    reasons = models.JSONField(default=list, blank=True, help_text="Why the carrier is not eligible.")
    error = models.CharField(
        max_length=20, blank=True, help_text="For unavailable: timeout, unreachable, bad_answer or circuit_open."
    )
    latency_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["-looked_up_at"]
        indexes = [models.Index(fields=["outcome", "looked_up_at"], name="lookup_outcome_at_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(outcome__in=LookupOutcome.values), name="lookup_outcome_valid")
        ]

    def __str__(self):
        return f"MC{self.mc_number} {self.outcome} at {self.looked_up_at:%Y-%m-%d %H:%M}"


# --- Derived daily totals behind the sales metrics ---------------------------------------
# Written only by ``carriers.rollups`` (in the same transaction as the call or agreement they
# count) and rebuilt from the raw rows by ``manage.py rebuild_sales_rollups``. ``day`` is the
# date in the site's time zone, as the metrics' periods are.


class CallDayTotal(models.Model):
    """Calls of one day with one outcome and one sentiment."""

    day = models.DateField()
    outcome = models.CharField(max_length=30, choices=CallOutcome.choices)
    sentiment = models.CharField(max_length=20, choices=Sentiment.choices)
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day", "outcome", "sentiment"]
        constraints = [
            models.UniqueConstraint(fields=["day", "outcome", "sentiment"], name="call_day_total_key"),
        ]

    def __str__(self):
        return f"{self.day} {self.outcome}/{self.sentiment}: {self.calls}"


class CallLaneDayTotal(models.Model):
    """Calls of one day about loads on one lane with one equipment type (as the load is now)."""

    day = models.DateField()
    origin_city = models.CharField(max_length=100)
    origin_state = models.CharField(max_length=2)
    destination_city = models.CharField(max_length=100)
    destination_state = models.CharField(max_length=2)
    equipment_type = models.CharField(max_length=20)
    calls = models.PositiveIntegerField(default=0)
    booked = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["day"]
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "origin_state",
                    "origin_city",
                    "destination_state",
                    "destination_city",
                    "equipment_type",
                ],
                name="call_lane_day_total_key",
            ),
        ]

    def __str__(self):
        return f"{self.day} {self.origin_city} → {self.destination_city} ({self.equipment_type}): {self.calls}"


class OfferDayTotal(models.Model):
    """Offers of one day in one round with one decision, and the sum behind the average ask."""

    day = models.DateField()
    round = models.PositiveSmallIntegerField()
    decision = models.CharField(max_length=10, choices=OfferDecision.choices)
    offers = models.PositiveIntegerField(default=0)
    ask_premium_pct = models.FloatField(default=0, help_text="Sum over offers of (ask − posted) × 100 / posted.")

    class Meta:
        ordering = ["day", "round", "decision"]
        constraints = [models.UniqueConstraint(fields=["day", "round", "decision"], name="offer_day_total_key")]

    def __str__(self):
        return f"{self.day} round {self.round} {self.decision}: {self.offers}"


class AgreementDayTotal(models.Model):
    """Accepted offers of one day: their count and the sums behind the averages."""

    day = models.DateField(unique=True)
    agreements = models.PositiveIntegerField(default=0)
    rounds = models.PositiveIntegerField(default=0)
    premium_pct = models.FloatField(default=0, help_text="Sum over agreements of (agreed − posted) × 100 / posted.")
    agreed_value = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        ordering = ["day"]

    def __str__(self):
        return f"{self.day}: {self.agreements} agreements"
