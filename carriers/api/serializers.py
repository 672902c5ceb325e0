from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from accounts.models import User
from core.api.dates import MomentField, PeriodQuerySerializer
from core.api.serializers import SOFT_DELETE_FIELDS, BaseModelSerializer, InputSerializer, SafeJSONField

from ..choices import (
    CallOutcome,
    EquipmentType,
    FollowUpReason,
    LoadStatus,
    NegotiationStatus,
    Sentiment,
    USState,
    VerificationSource,
)
from ..models import Call, Carrier, FollowUp, Load, Negotiation, Offer
from ..normalize import InvalidMCNumber, normalize_equipment, normalize_mc_number

CEILING_PERMISSION = "carriers.view_load_ceiling"
MAX_AMOUNT = Decimal("1000000")
LOAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"


class MCNumberField(serializers.CharField):
    """Accepts "MC 123456", "MC-123456", "123456"... and stores the digits."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return normalize_mc_number(super().to_internal_value(data))
        except InvalidMCNumber as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from None


# A plain pattern rather than an enum: spectacular would publish the same 51-value enum twice
# (origin and destination) under two names.
@extend_schema_field({"type": "string", "pattern": "^[A-Z]{2}$", "description": "Two-letter US state code, e.g. IL."})
class StateField(serializers.ChoiceField):
    """Two-letter state code, case-insensitive on input."""

    def __init__(self, **kwargs):
        super().__init__(choices=USState.choices, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip().upper()
        return super().to_internal_value(data)


class EquipmentField(serializers.ChoiceField):
    """Equipment type with spelling variants ("Dry Van", "dry-van") normalised."""

    def __init__(self, **kwargs):
        super().__init__(choices=EquipmentType.choices, **kwargs)

    def to_internal_value(self, data):
        normalized = normalize_equipment(data) if isinstance(data, str) else None
        return super().to_internal_value(normalized if normalized else data)


def money(**kwargs):
    return serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0.01"), max_value=MAX_AMOUNT, **kwargs
    )


class CarrierSerializer(BaseModelSerializer):
    # ``objects`` hides deleted rows, so the number must be unique among live carriers only.
    mc_number = MCNumberField(
        validators=[UniqueValidator(Carrier.objects.all(), message="A carrier with this MC number already exists.")]
    )
    reasons = serializers.ListField(source="ineligibility_reasons", child=serializers.CharField(), read_only=True)
    # Empty until the carrier is first verified.
    verification_source = serializers.ChoiceField(choices=VerificationSource.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Carrier
        fields = (
            "id",
            "mc_number",
            "dot_number",
            "legal_name",
            "dba_name",
            "phone",
            "city",
            "state",
            "eligible",
            "reasons",
            "allowed_to_operate",
            "status_code",
            "out_of_service_date",
            "safety_rating",
            "verified_at",
            "verification_source",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
            "version",
            *SOFT_DELETE_FIELDS,
        )
        read_only_fields = (
            "eligible",
            "allowed_to_operate",
            "status_code",
            "out_of_service_date",
            "safety_rating",
            "verified_at",
            "verification_source",
            *SOFT_DELETE_FIELDS,
        )
        validators = []  # MC uniqueness among live rows is the field's validator


STATUS_LABELS = {"A": "active", "I": "inactive"}


class VerificationSerializer(serializers.Serializer):
    """What ``GET carriers/verify/{mc}/`` answers."""

    mc_number = serializers.CharField(source="carrier.mc_number")
    eligible = serializers.BooleanField(source="carrier.eligible")
    reasons = serializers.ListField(source="carrier.ineligibility_reasons", child=serializers.CharField())
    legal_name = serializers.CharField(source="carrier.legal_name")
    dba_name = serializers.CharField(source="carrier.dba_name")
    dot_number = serializers.IntegerField(source="carrier.dot_number", allow_null=True)
    allowed_to_operate = serializers.BooleanField(source="carrier.allowed_to_operate", allow_null=True)
    status = serializers.SerializerMethodField()
    verified_at = serializers.DateTimeField(source="carrier.verified_at")
    source = serializers.CharField()

    def get_status(self, verification) -> str | None:
        code = verification.carrier.status_code
        return STATUS_LABELS.get(code, code.lower() or None)


class LoadSerializer(BaseModelSerializer):
    load_id = serializers.RegexField(
        LOAD_ID_PATTERN,
        max_length=32,
        error_messages={"invalid": "Letters, digits, '-' and '_' only, up to 32 characters (e.g. L-10042)."},
        validators=[UniqueValidator(Load.objects.all(), message="A load with this load ID already exists.")],
    )
    origin_state = StateField()
    destination_state = StateField()
    equipment_type = EquipmentField()
    loadboard_rate = money()
    max_rate = money(required=False, allow_null=True)
    booked_carrier = serializers.SlugRelatedField(slug_field="mc_number", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=LoadStatus.choices, required=False)
    weight = serializers.IntegerField(min_value=1, max_value=200_000)
    miles = serializers.IntegerField(min_value=1, max_value=10_000, required=False, allow_null=True)
    num_of_pieces = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True)

    class Meta:
        model = Load
        fields = (
            "id",
            "load_id",
            "origin_city",
            "origin_state",
            "destination_city",
            "destination_state",
            "pickup_datetime",
            "delivery_datetime",
            "equipment_type",
            "loadboard_rate",
            "max_rate",
            "agreed_rate",
            "booked_carrier",
            "booked_at",
            "status",
            "weight",
            "commodity_type",
            "num_of_pieces",
            "miles",
            "dimensions",
            "notes",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
            "version",
            *SOFT_DELETE_FIELDS,
        )
        read_only_fields = ("agreed_rate", "booked_at", *SOFT_DELETE_FIELDS)
        validators = []  # load_id uniqueness among live rows is the field's validator

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.has_perm(CEILING_PERMISSION):
            # The ceiling is the broker's secret: neither shown nor settable without the permission.
            fields.pop("max_rate", None)
        return fields

    # Rules across fields (delivery after pickup, ceiling not below the posted rate) are the
    # model's, applied by ``carriers.services`` to every write.


_drf_money = serializers.DecimalField(max_digits=10, decimal_places=2).to_representation


def _money(value):
    # A money column's value has its two places already: DRF would write it as it is.
    return str(value) if value.as_tuple().exponent == -2 else _drf_money(value)


class LoadListSerializer(serializers.BaseSerializer):
    """The load search's rows, written out directly from plain values (``load_list_columns``):
    the same fields, values and formats as ``LoadSerializer`` (tests/carriers/test_load_list.py
    holds them equal), without a model instance per row or a DRF field per value. Search is the
    desk's hottest path; writes and the detail view keep the full serializer.

    Datetimes and ids stay Python values, in the current time zone: the JSON renderer writes them
    as DRF's fields would (ISO 8601, UTC as "Z"), in C."""

    # Related objects are shown by one column of theirs, read through the join.
    RELATED = {
        "booked_carrier": "booked_carrier__mc_number",
        "created_by": "created_by__username",
        "updated_by": "updated_by__username",
    }
    DATETIMES = frozenset(
        ("pickup_datetime", "delivery_datetime", "booked_at", "created_at", "updated_at", "deleted_at")
    )
    AMOUNTS = frozenset(("loadboard_rate", "max_rate", "agreed_rate"))

    @classmethod
    def fields_for(cls, user) -> tuple[str, ...]:
        fields = LoadSerializer.Meta.fields
        if user is None or not user.has_perm(CEILING_PERMISSION):
            fields = tuple(name for name in fields if name != "max_rate")
        return fields

    @classmethod
    def columns_for(cls, user) -> list[str]:
        """What ``QuerySet.values()`` reads for ``user``'s rows."""
        return [cls.RELATED.get(name, name) for name in cls.fields_for(user)]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        zone = timezone.get_current_timezone()
        # The database answers in UTC: only another current time zone needs converting to.
        in_utc = str(zone) in ("UTC", "Etc/UTC")

        def local(value):
            return value.astimezone(zone)

        names = self.fields_for(getattr(request, "user", None))
        self.columns = [(name, self.RELATED.get(name, name)) for name in names]
        self.writers = [(name, _money) for name in names if name in self.AMOUNTS]
        if not in_utc:
            self.writers += [(name, local) for name in names if name in self.DATETIMES]

    def to_representation(self, row):
        out = {name: row[column] for name, column in self.columns}
        for name, write in self.writers:
            value = out[name]
            if value is not None:
                out[name] = write(value)
        return out


class LoadImportSerializer(LoadSerializer):
    """A row of ``manage.py import_loads``: the API's rules for a posted load, the ceiling included
    (operators import it), load-ID uniqueness checked for the whole file at once by the service."""

    load_id = serializers.RegexField(
        LOAD_ID_PATTERN,
        max_length=32,
        error_messages={"invalid": "Letters, digits, '-' and '_' only, up to 32 characters (e.g. L-10042)."},
    )

    def get_fields(self):
        return BaseModelSerializer.get_fields(self)


class OfferInputSerializer(InputSerializer):
    mc_number = MCNumberField()
    amount = money()
    call_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class OfferResultSerializer(serializers.Serializer):
    """One negotiation round's answer; it never carries the ceiling."""

    round = serializers.IntegerField(source="offer.round")
    decision = serializers.CharField(source="offer.decision")
    counter_amount = serializers.DecimalField(
        source="offer.counter_amount", max_digits=10, decimal_places=2, allow_null=True
    )
    agreed_amount = serializers.DecimalField(
        source="offer.agreed_amount", max_digits=10, decimal_places=2, allow_null=True
    )
    rounds_left = serializers.IntegerField()
    load_status = serializers.CharField(source="load.status")


class OfferSerializer(serializers.ModelSerializer):
    load_id = serializers.CharField(source="negotiation.load.load_id", read_only=True)
    mc_number = serializers.CharField(source="negotiation.carrier.mc_number", read_only=True)

    class Meta:
        model = Offer
        fields = (
            "id",
            "load_id",
            "mc_number",
            "round",
            "amount",
            "decision",
            "counter_amount",
            "agreed_amount",
            "created_at",
        )
        read_only_fields = fields


class CallSerializer(BaseModelSerializer):
    mc_number = MCNumberField(required=False, allow_blank=True, default="")
    load_id = serializers.SlugRelatedField(source="load", slug_field="load_id", read_only=True, allow_null=True)
    outcome = serializers.ChoiceField(choices=CallOutcome.choices)
    sentiment = serializers.ChoiceField(choices=Sentiment.choices)
    duration_seconds = serializers.IntegerField(min_value=0, max_value=24 * 3600)
    extracted = SafeJSONField(required=False, default=dict)

    class Meta:
        model = Call
        fields = (
            "id",
            "external_id",
            "mc_number",
            "load_id",
            "started_at",
            "duration_seconds",
            "outcome",
            "sentiment",
            "summary",
            "transcript",
            "extracted",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
            "version",
        )
        validators = []  # a repeated external_id is answered with the stored call, not refused
        extra_kwargs = {"external_id": {"validators": []}}

    def validate_extracted(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class FollowUpSerializer(BaseModelSerializer):
    call_id = serializers.SlugRelatedField(source="call", slug_field="external_id", read_only=True)
    mc_number = serializers.CharField(source="call.mc_number", read_only=True)
    assigned_to = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True), required=False, allow_null=True
    )
    reason = serializers.ChoiceField(choices=FollowUpReason.choices)
    done = serializers.BooleanField(source="is_done", read_only=True)
    done_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = FollowUp
        fields = (
            "id",
            "call_id",
            "mc_number",
            "due_at",
            "reason",
            "note",
            "assigned_to",
            "done",
            "done_at",
            "done_by",
            "created_at",
            "updated_at",
            "created_by",
            "updated_by",
            "version",
        )
        read_only_fields = ("done_at",)


class FollowUpCreateSerializer(FollowUpSerializer):
    """A follow-up added after the call was logged, naming the call by its external id."""

    call_id = serializers.SlugRelatedField(source="call", slug_field="external_id", queryset=Call.objects.all())

    class Meta(FollowUpSerializer.Meta):
        pass


class FollowUpInputSerializer(FollowUpSerializer):
    """A follow-up set by the voice platform as it logs the call."""

    class Meta(FollowUpSerializer.Meta):
        fields = ("due_at", "reason", "note", "assigned_to")


class CallInputSerializer(CallSerializer):
    load_id = serializers.RegexField(LOAD_ID_PATTERN, max_length=32, required=False, allow_blank=True, default="")
    follow_up = FollowUpInputSerializer(required=False, allow_null=True)

    class Meta(CallSerializer.Meta):
        fields = (*CallSerializer.Meta.fields, "follow_up")


class CallDetailSerializer(CallSerializer):
    rounds = OfferSerializer(source="offers", many=True, read_only=True)
    follow_ups = FollowUpSerializer(many=True, read_only=True)

    class Meta(CallSerializer.Meta):
        fields = (*CallSerializer.Meta.fields, "rounds", "follow_ups")


class MetricsQuerySerializer(PeriodQuerySerializer):
    """``?from=&to=``: days within the range every period takes (``core.api.dates``)."""


class LaneRatesQuerySerializer(MetricsQuerySerializer):
    origin_state = StateField(required=False)
    destination_state = StateField(required=False)
    equipment_type = EquipmentField(required=False)


class QuartilesSerializer(serializers.Serializer):
    p25 = serializers.FloatField(allow_null=True)
    p50 = serializers.FloatField(allow_null=True)
    p75 = serializers.FloatField(allow_null=True)


class LaneRateSerializer(serializers.Serializer):
    origin_state = serializers.CharField()
    destination_state = serializers.CharField()
    equipment_type = serializers.CharField()
    bookings = serializers.IntegerField()
    rate_per_mile = QuartilesSerializer(help_text="Agreed rate per mile in USD (bookings with miles).")
    premium_pct = QuartilesSerializer(help_text="Agreed rate over the posted rate, in %.")


class CeilingSuggestionSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    method = serializers.ChoiceField(choices=["lane_history", "default_percentage"])
    explanation = serializers.CharField()
    bookings = serializers.IntegerField()
    rate_per_mile_p75 = serializers.FloatField(allow_null=True)


class NegotiationSerializer(serializers.ModelSerializer):
    """A negotiation with its rounds. Never the ceiling: that stays the broker's secret."""

    load_id = serializers.CharField(source="load.load_id", read_only=True)
    mc_number = serializers.CharField(source="carrier.mc_number", read_only=True)
    carrier_name = serializers.CharField(source="carrier.legal_name", read_only=True)
    posted_rate = serializers.DecimalField(
        source="load.loadboard_rate", max_digits=10, decimal_places=2, read_only=True
    )
    status = serializers.ChoiceField(choices=NegotiationStatus.choices, read_only=True)
    rounds = OfferSerializer(source="offers", many=True, read_only=True)

    class Meta:
        model = Negotiation
        fields = (
            "id",
            "load_id",
            "mc_number",
            "carrier_name",
            "posted_rate",
            "status",
            "rounds_used",
            "last_counter",
            "agreed_rate",
            "rounds",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class CarrierHistoryTotalsSerializer(serializers.Serializer):
    calls = serializers.IntegerField()
    negotiations = serializers.IntegerField()
    bookings = serializers.IntegerField()
    booking_rate = serializers.FloatField(help_text="Bookings per call.")
    average_premium_pct = serializers.FloatField(allow_null=True, help_text="Agreed over posted rate, in %.")


class BookingSerializer(serializers.ModelSerializer):
    class Meta:
        model = Load
        fields = (
            "load_id",
            "origin_city",
            "origin_state",
            "destination_city",
            "destination_state",
            "equipment_type",
            "loadboard_rate",
            "agreed_rate",
            "booked_at",
            "status",
        )
        read_only_fields = fields


class CarrierHistorySerializer(serializers.Serializer):
    mc_number = serializers.CharField()
    totals = CarrierHistoryTotalsSerializer()
    calls = CallSerializer(many=True)
    negotiations = NegotiationSerializer(many=True)
    bookings = BookingSerializer(many=True)
    next_before = serializers.DateTimeField(
        allow_null=True, help_text="Pass as ?before= for the next (older) page; null on the last page."
    )


class CarrierHistoryQuerySerializer(serializers.Serializer):
    before = MomentField(required=False, help_text="Only items older than this.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)
