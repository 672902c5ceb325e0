from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from core.api.serializers import SOFT_DELETE_FIELDS, BaseModelSerializer, SafeJSONField

from ..choices import CallOutcome, EquipmentType, LoadStatus, Sentiment, USState
from ..models import Call, Carrier, Load, Offer
from ..normalize import normalize_equipment, normalize_mc_number

CEILING_PERMISSION = "carriers.view_load_ceiling"
MAX_AMOUNT = Decimal("1000000")
LOAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"


class MCNumberField(serializers.CharField):
    """Accepts "MC 123456", "MC-123456", "123456"... and stores the digits."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        return normalize_mc_number(super().to_internal_value(data))


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

    def validate(self, attrs):
        attrs = super().validate(attrs)

        def current(name):
            if name in attrs:
                return attrs[name]
            return getattr(self.instance, name, None)

        pickup, delivery = current("pickup_datetime"), current("delivery_datetime")
        if pickup and delivery and delivery <= pickup:
            raise serializers.ValidationError({"delivery_datetime": ["Delivery must be after pickup."]})
        posted, ceiling = current("loadboard_rate"), current("max_rate")
        if posted is not None and ceiling is not None and ceiling < posted:
            raise serializers.ValidationError({"max_rate": ["The ceiling cannot be below the posted rate."]})
        return attrs


class OfferInputSerializer(serializers.Serializer):
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


class CallInputSerializer(CallSerializer):
    load_id = serializers.RegexField(LOAD_ID_PATTERN, max_length=32, required=False, allow_blank=True, default="")

    class Meta(CallSerializer.Meta):
        pass


class CallDetailSerializer(CallSerializer):
    rounds = OfferSerializer(source="offers", many=True, read_only=True)

    class Meta(CallSerializer.Meta):
        fields = (*CallSerializer.Meta.fields, "rounds")


class MetricsQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False, allow_null=True)
    end = serializers.DateField(required=False, allow_null=True)

    def to_internal_value(self, data):
        # ``from``/``to`` in the query string; Python keywords, so renamed here.
        mapped = {}
        if "from" in data:
            mapped["start"] = data.get("from")
        if "to" in data:
            mapped["end"] = data.get("to")
        try:
            return super().to_internal_value(mapped)
        except serializers.ValidationError as exc:
            renamed = {{"start": "from", "end": "to"}.get(key, key): value for key, value in exc.detail.items()}
            raise serializers.ValidationError(renamed) from None

    def validate(self, attrs):
        start, end = attrs.get("start"), attrs.get("end")
        if start and end and end < start:
            raise serializers.ValidationError({"to": ["Must not be before 'from'."]})
        return attrs
