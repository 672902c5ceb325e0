from decimal import Decimal

from rest_framework import serializers

from core.api.serializers import AUDIT_FIELDS, SOFT_DELETE_FIELDS, BaseModelSerializer, InputSerializer, SafeJSONField
from logistics.choices import DecisionType, DeliveryResult
from logistics.models import (
    CostModel,
    Customer,
    Decision,
    Hub,
    OperationalOutcome,
    Order,
    Route,
    RouteStop,
    Vehicle,
    VehicleTypeRate,
)


class HubSerializer(BaseModelSerializer):
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)

    class Meta:
        model = Hub
        fields = (*AUDIT_FIELDS, "name", "address", "latitude", "longitude", "opening_time", "closing_time")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        opening = attrs.get("opening_time", getattr(self.instance, "opening_time", None))
        closing = attrs.get("closing_time", getattr(self.instance, "closing_time", None))
        if opening and closing and closing <= opening:
            raise serializers.ValidationError({"closing_time": ["The hub must close after it opens."]})
        return attrs


class CustomerSerializer(BaseModelSerializer):
    constraints = SafeJSONField(required=False)
    preferences = SafeJSONField(required=False)

    class Meta:
        model = Customer
        fields = (
            *AUDIT_FIELDS,
            *SOFT_DELETE_FIELDS,
            "reference",
            "name",
            "email",
            "phone",
            "address",
            "constraints",
            "preferences",
        )
        read_only_fields = ("deleted_at",)


class OrderSerializer(BaseModelSerializer):
    destination_latitude = serializers.FloatField(min_value=-90, max_value=90)
    destination_longitude = serializers.FloatField(min_value=-180, max_value=180)
    weight_t = serializers.DecimalField(max_digits=8, decimal_places=3, min_value=Decimal("0.001"))
    volume_m3 = serializers.DecimalField(max_digits=8, decimal_places=3, min_value=Decimal("0.001"))
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    hub = serializers.PrimaryKeyRelatedField(queryset=Hub.objects.all())
    customer_reference = serializers.CharField(source="customer.reference", read_only=True)
    route_reference = serializers.CharField(source="route.reference", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Order
        fields = (
            *AUDIT_FIELDS,
            *SOFT_DELETE_FIELDS,
            "reference",
            "customer",
            "customer_reference",
            "hub",
            "destination_city",
            "destination_address",
            "destination_latitude",
            "destination_longitude",
            "weight_t",
            "volume_m3",
            "window_start",
            "window_end",
            "service_minutes",
            "priority",
            "handling",
            "price_kes",
            "status",
            "route",
            "route_reference",
        )
        read_only_fields = ("deleted_at", "route")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        start = attrs.get("window_start", getattr(self.instance, "window_start", None))
        end = attrs.get("window_end", getattr(self.instance, "window_end", None))
        if start and end and end <= start:
            raise serializers.ValidationError({"window_end": ["The delivery window must end after it starts."]})
        return attrs


class VehicleSerializer(BaseModelSerializer):
    capacity_weight_t = serializers.DecimalField(max_digits=8, decimal_places=3, min_value=Decimal("0.001"))
    capacity_volume_m3 = serializers.DecimalField(max_digits=8, decimal_places=3, min_value=Decimal("0.001"))
    home_hub = serializers.PrimaryKeyRelatedField(queryset=Hub.objects.all())

    class Meta:
        model = Vehicle
        fields = (
            *AUDIT_FIELDS,
            *SOFT_DELETE_FIELDS,
            "reference",
            "vehicle_type",
            "capacity_weight_t",
            "capacity_volume_m3",
            "refrigerated",
            "hazmat_certified",
            "home_hub",
            "status",
            "available_from",
        )
        read_only_fields = ("deleted_at",)


class RouteStopSerializer(serializers.ModelSerializer):
    order_reference = serializers.CharField(source="order.reference", read_only=True)

    class Meta:
        model = RouteStop
        fields = (
            "id",
            "sequence",
            "stop_type",
            "order",
            "order_reference",
            "city",
            "latitude",
            "longitude",
            "leg_distance_km",
            "estimated_arrival",
            "actual_arrival",
        )
        read_only_fields = fields


class RouteSerializer(serializers.ModelSerializer):
    vehicle_reference = serializers.CharField(source="vehicle.reference", read_only=True)
    stops = RouteStopSerializer(many=True, read_only=True)

    class Meta:
        model = Route
        fields = (
            "id",
            "created_at",
            "updated_at",
            "version",
            "reference",
            "decision",
            "vehicle",
            "vehicle_reference",
            "status",
            "destination_cities",
            "planned_start",
            "distance_km",
            "duration_min",
            "cost_kes",
            "started_at",
            "completed_at",
            "stops",
        )
        read_only_fields = fields


class DecisionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    routes_created = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = (
            "id",
            "created_at",
            "created_by",
            "updated_at",
            "version",
            "decision_type",
            "status",
            "policy",
            "time_limit_seconds",
            "planning_start",
            "total_cost_kes",
            "total_distance_km",
            "orders_routed",
            "confidence",
            "computation_ms",
            "failure_reason",
            "committed_at",
            "plan",
            "left_out",
            "solver_stats",
            "state_snapshot",
            "routes_created",
        )
        read_only_fields = fields

    def get_routes_created(self, obj) -> list[str]:
        return [route.reference for route in obj.routes.all()]


class DecisionBriefSerializer(DecisionSerializer):
    class Meta(DecisionSerializer.Meta):
        fields = tuple(
            f
            for f in DecisionSerializer.Meta.fields
            if f not in ("plan", "state_snapshot", "left_out", "solver_stats", "routes_created")
        )
        read_only_fields = fields


class DecisionInputSerializer(InputSerializer):
    decision_type = serializers.ChoiceField(choices=DecisionType.choices)
    order_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, allow_empty=False, max_length=20000
    )
    vehicle_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, allow_empty=False, max_length=5000
    )
    hub_id = serializers.UUIDField(required=False)
    time_limit_seconds = serializers.FloatField(required=False, min_value=0.1, max_value=3600)


class OrderResultSerializer(InputSerializer):
    order = serializers.CharField(help_text="Order id or reference.")
    result = serializers.ChoiceField(choices=DeliveryResult.choices)


class RouteCompleteSerializer(InputSerializer):
    actual_distance_km = serializers.FloatField(min_value=0.001, max_value=100000)
    actual_duration_min = serializers.FloatField(min_value=0.001, max_value=100000)
    actual_cost_kes = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    revenue_kes = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    results = OrderResultSerializer(many=True, allow_empty=False)


class OutcomeSerializer(serializers.ModelSerializer):
    route_reference = serializers.CharField(source="route.reference", read_only=True)

    class Meta:
        model = OperationalOutcome
        fields = (
            "id",
            "created_at",
            "route",
            "route_reference",
            "decision",
            "estimated_distance_km",
            "estimated_duration_min",
            "estimated_cost_kes",
            "actual_distance_km",
            "actual_duration_min",
            "actual_cost_kes",
            "revenue_kes",
            "net_profit_kes",
            "distance_error_pct",
            "duration_error_pct",
            "cost_error_pct",
            "on_time_count",
            "late_count",
            "failed_count",
            "results",
            "calibration",
        )
        read_only_fields = fields


class RateSerializer(InputSerializer):
    vehicle_type = serializers.CharField(max_length=30)
    fuel_cost_per_km = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)
    driver_cost_per_hour = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0)


class RateReadSerializer(serializers.ModelSerializer):
    class Meta:
        model = VehicleTypeRate
        fields = ("vehicle_type", "fuel_cost_per_km", "driver_cost_per_hour", "updated_at", "version")
        read_only_fields = fields


class CostModelSerializer(BaseModelSerializer):
    rates = RateSerializer(
        many=True, required=False, write_only=True, help_text="Per vehicle type; listed types are set."
    )

    class Meta:
        model = CostModel
        fields = (
            *AUDIT_FIELDS,
            "average_speed_kmh",
            "road_factor",
            "default_service_minutes",
            "fixed_cost_per_vehicle",
            "fuel_cost_per_km",
            "driver_cost_per_hour",
            "calibration_weight",
            "outcomes_applied",
            "rates",
        )
        read_only_fields = ("outcomes_applied",)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["rates"] = RateReadSerializer(instance.rates.all(), many=True).data
        return data


class CostModelHistorySerializer(serializers.Serializer):
    history_date = serializers.DateTimeField()
    history_user = serializers.CharField(source="history_user.username", default=None)
    history_change_reason = serializers.CharField(allow_null=True)
    version = serializers.IntegerField()
    average_speed_kmh = serializers.FloatField()
    road_factor = serializers.FloatField()
    fixed_cost_per_vehicle = serializers.DecimalField(max_digits=12, decimal_places=2)
    fuel_cost_per_km = serializers.DecimalField(max_digits=10, decimal_places=2)
    driver_cost_per_hour = serializers.DecimalField(max_digits=10, decimal_places=2)
