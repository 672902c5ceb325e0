"""Dispatch: hubs, customers, orders, the fleet, the cost model, planning decisions, routes and outcomes.

Customers, orders and vehicles are soft-deleted; decisions, routes, stops and outcomes are
append-only records (their status moves forward, nothing is deleted), so every plan can be audited
against what really happened.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from core.models import BaseModel, SoftDeleteModel

from .choices import (
    ORDER_ON_ROUTE,
    DecisionStatus,
    DecisionType,
    Handling,
    OrderStatus,
    Priority,
    RouteStatus,
    VehicleStatus,
)

LATITUDE = [MinValueValidator(-90), MaxValueValidator(90)]
LONGITUDE = [MinValueValidator(-180), MaxValueValidator(180)]
POSITIVE = [MinValueValidator(Decimal("0.001"))]


def _coordinates_in_range(prefix: str, name: str) -> list[models.CheckConstraint]:
    lat, lon = f"{prefix}latitude", f"{prefix}longitude"
    return [
        models.CheckConstraint(condition=Q(**{f"{lat}__gte": -90, f"{lat}__lte": 90}), name=f"{name}_latitude_range"),
        models.CheckConstraint(
            condition=Q(**{f"{lon}__gte": -180, f"{lon}__lte": 180}), name=f"{name}_longitude_range"
        ),
    ]


class Hub(BaseModel):
    name = models.CharField(max_length=100)
    address = models.CharField(max_length=300, blank=True)
    latitude = models.FloatField(validators=LATITUDE)
    longitude = models.FloatField(validators=LONGITUDE)
    opening_time = models.TimeField(help_text="Vehicles leave no earlier than this (local time).")
    closing_time = models.TimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="logistics_hub_name_unique"),
            models.CheckConstraint(
                condition=Q(closing_time__gt=F("opening_time")), name="logistics_hub_closes_after_opening"
            ),
            *_coordinates_in_range("", "logistics_hub"),
        ]

    def __str__(self):
        return self.name


class Customer(SoftDeleteModel):
    reference = models.CharField(max_length=50)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    address = models.CharField(max_length=300, blank=True)
    constraints = models.JSONField(default=dict, blank=True, help_text='e.g. {"max_wait_hours": 2}')
    preferences = models.JSONField(default=dict, blank=True)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["reference"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference"],
                condition=Q(deleted_at__isnull=True),
                name="logistics_customer_reference_live_unique",
                violation_error_message="A customer with this reference already exists.",
            )
        ]

    def __str__(self):
        return f"{self.reference} {self.name}"


class CostModel(BaseModel):
    """The planner's estimates. One row is current; every change (by an operator or by calibration
    from outcomes) is kept in its history."""

    average_speed_kmh = models.FloatField(default=50.0, validators=[MinValueValidator(1), MaxValueValidator(150)])
    road_factor = models.FloatField(
        default=1.3,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="Road distance over great-circle distance.",
    )
    default_service_minutes = models.PositiveIntegerField(default=20, validators=[MaxValueValidator(24 * 60)])
    fixed_cost_per_vehicle = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("5000"), validators=[MinValueValidator(0)]
    )
    fuel_cost_per_km = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("100"),
        validators=[MinValueValidator(0)],
        help_text="For vehicle types without their own rate.",
    )
    driver_cost_per_hour = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("500"), validators=[MinValueValidator(0)]
    )
    calibration_weight = models.FloatField(
        default=0.3,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Weight of each outcome in the moving averages (0 turns calibration off).",
    )
    outcomes_applied = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(average_speed_kmh__gt=0), name="logistics_costmodel_speed_positive"),
            models.CheckConstraint(condition=Q(road_factor__gte=1), name="logistics_costmodel_road_factor_min"),
        ]

    def __str__(self):
        return f"Cost model (v{self.version})"


class VehicleTypeRate(BaseModel):
    """Running costs of one vehicle type (e.g. 5T, 10T)."""

    cost_model = models.ForeignKey(CostModel, on_delete=models.CASCADE, related_name="rates")
    vehicle_type = models.CharField(max_length=30)
    fuel_cost_per_km = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])
    driver_cost_per_hour = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(0)])

    class Meta:
        ordering = ["vehicle_type"]
        constraints = [
            models.UniqueConstraint(fields=["cost_model", "vehicle_type"], name="logistics_rate_one_per_type"),
            models.CheckConstraint(
                condition=Q(fuel_cost_per_km__gte=0, driver_cost_per_hour__gte=0), name="logistics_rate_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.vehicle_type}: {self.fuel_cost_per_km}/km, {self.driver_cost_per_hour}/h"


class Vehicle(SoftDeleteModel):
    reference = models.CharField(max_length=50)
    vehicle_type = models.CharField(max_length=30, help_text="e.g. 5T, 10T; running costs come from its rate.")
    capacity_weight_t = models.DecimalField(max_digits=8, decimal_places=3, validators=POSITIVE)
    capacity_volume_m3 = models.DecimalField(max_digits=8, decimal_places=3, validators=POSITIVE)
    refrigerated = models.BooleanField(default=False)
    hazmat_certified = models.BooleanField(default=False, help_text="Certified to carry hazardous goods.")
    home_hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="vehicles")
    status = models.CharField(
        max_length=20, choices=VehicleStatus.choices, default=VehicleStatus.AVAILABLE, db_index=True
    )
    available_from = models.DateTimeField(null=True, blank=True)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["reference"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference"],
                condition=Q(deleted_at__isnull=True),
                name="logistics_vehicle_reference_live_unique",
                violation_error_message="A vehicle with this reference already exists.",
            ),
            models.CheckConstraint(
                condition=Q(capacity_weight_t__gt=0, capacity_volume_m3__gt=0),
                name="logistics_vehicle_capacity_positive",
            ),
        ]

    def __str__(self):
        return f"{self.reference} ({self.vehicle_type})"


class Decision(BaseModel):
    """One planning step: what it saw, what it proposes, what that would cost, and whether it was applied."""

    decision_type = models.CharField(max_length=30, choices=DecisionType.choices, db_index=True)
    status = models.CharField(
        max_length=20, choices=DecisionStatus.choices, default=DecisionStatus.SOLVING, db_index=True
    )
    policy = models.CharField(max_length=100, blank=True, help_text="Solver and settings used.")
    time_limit_seconds = models.FloatField(default=5)
    planning_start = models.DateTimeField(help_text="Time zero of the plan: windows count in minutes from here.")
    state_snapshot = models.JSONField(default=dict, blank=True)
    plan = models.JSONField(default=dict, blank=True, help_text="Proposed routes with their stops.")
    left_out = models.JSONField(default=list, blank=True, help_text="Orders not routed, with the reason.")
    total_cost_kes = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    total_distance_km = models.FloatField(null=True, blank=True)
    orders_routed = models.PositiveIntegerField(default=0)
    confidence = models.FloatField(null=True, blank=True)
    computation_ms = models.PositiveIntegerField(null=True, blank=True)
    solver_stats = models.JSONField(default=dict, blank=True)
    failure_reason = models.TextField(blank=True)
    committed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("commit_decision", "Can commit a proposed decision")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=DecisionStatus.COMMITTED, committed_at__isnull=False)
                | (~Q(status=DecisionStatus.COMMITTED) & Q(committed_at__isnull=True)),
                name="logistics_decision_committed_at_matches_status",
            )
        ]

    def __str__(self):
        return f"{self.get_decision_type_display()} {self.created_at:%Y-%m-%d %H:%M} ({self.status})"


class Route(BaseModel):
    reference = models.CharField(max_length=50, unique=True)
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="routes")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="routes")
    status = models.CharField(max_length=20, choices=RouteStatus.choices, default=RouteStatus.PLANNED, db_index=True)
    destination_cities = models.JSONField(default=list, blank=True)
    planned_start = models.DateTimeField()
    distance_km = models.FloatField()
    duration_min = models.FloatField()
    cost_kes = models.DecimalField(max_digits=14, decimal_places=2)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-planned_start", "reference"]
        permissions = [("operate_route", "Can start and complete routes")]
        constraints = [
            models.CheckConstraint(
                condition=Q(distance_km__gte=0, duration_min__gte=0, cost_kes__gte=0),
                name="logistics_route_totals_not_negative",
            )
        ]

    def __str__(self):
        return self.reference


class RouteStop(BaseModel):
    route = models.ForeignKey(Route, on_delete=models.PROTECT, related_name="stops")
    sequence = models.PositiveIntegerField()
    stop_type = models.CharField(max_length=20, default="delivery")
    order = models.ForeignKey("Order", on_delete=models.PROTECT, related_name="stops")
    city = models.CharField(max_length=100, blank=True)
    latitude = models.FloatField(validators=LATITUDE)
    longitude = models.FloatField(validators=LONGITUDE)
    leg_distance_km = models.FloatField(default=0)
    estimated_arrival = models.DateTimeField()
    actual_arrival = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["route", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["route", "sequence"], name="logistics_stop_sequence_unique"),
            *_coordinates_in_range("", "logistics_stop"),
        ]

    def __str__(self):
        return f"{self.route} #{self.sequence} {self.city}"


class Order(SoftDeleteModel):
    reference = models.CharField(max_length=50)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="orders")
    destination_city = models.CharField(max_length=100, db_index=True)
    destination_address = models.CharField(max_length=300, blank=True)
    destination_latitude = models.FloatField(validators=LATITUDE)
    destination_longitude = models.FloatField(validators=LONGITUDE)
    weight_t = models.DecimalField(max_digits=8, decimal_places=3, validators=POSITIVE)
    volume_m3 = models.DecimalField(max_digits=8, decimal_places=3, validators=POSITIVE)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    service_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(24 * 60)], help_text="Empty: the cost model's default."
    )
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL, db_index=True)
    handling = models.CharField(max_length=20, choices=Handling.choices, default=Handling.GENERAL, db_index=True)
    price_kes = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING, db_index=True)
    route = models.ForeignKey(Route, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")

    class Meta(SoftDeleteModel.Meta):
        ordering = ["window_start", "reference"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference"],
                condition=Q(deleted_at__isnull=True),
                name="logistics_order_reference_live_unique",
                violation_error_message="An order with this reference already exists.",
            ),
            models.CheckConstraint(condition=Q(weight_t__gt=0, volume_m3__gt=0), name="logistics_order_size_positive"),
            models.CheckConstraint(condition=Q(price_kes__gte=0), name="logistics_order_price_not_negative"),
            models.CheckConstraint(
                condition=Q(window_end__gt=F("window_start")), name="logistics_order_window_end_after_start"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=ORDER_ON_ROUTE) | Q(route__isnull=False),
                name="logistics_order_on_route_has_route",
                violation_error_message="An assigned order must have a route.",
            ),
            *_coordinates_in_range("destination_", "logistics_order"),
        ]

    def __str__(self):
        return f"{self.reference} → {self.destination_city}"


class OperationalOutcome(BaseModel):
    """What really happened on a route, against what the decision estimated."""

    route = models.OneToOneField(Route, on_delete=models.PROTECT, related_name="outcome")
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="outcomes")
    estimated_distance_km = models.FloatField()
    estimated_duration_min = models.FloatField()
    estimated_cost_kes = models.DecimalField(max_digits=14, decimal_places=2)
    actual_distance_km = models.FloatField()
    actual_duration_min = models.FloatField()
    actual_cost_kes = models.DecimalField(max_digits=14, decimal_places=2)
    revenue_kes = models.DecimalField(max_digits=14, decimal_places=2)
    net_profit_kes = models.DecimalField(max_digits=14, decimal_places=2)
    distance_error_pct = models.FloatField(help_text="(estimate − actual) / actual × 100")
    duration_error_pct = models.FloatField()
    cost_error_pct = models.FloatField()
    on_time_count = models.PositiveIntegerField(default=0)
    late_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=dict, blank=True, help_text="Per order reference: on_time / late / failed.")
    calibration = models.JSONField(default=dict, blank=True, help_text="Cost model values before and after.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(actual_distance_km__gt=0, actual_duration_min__gt=0, actual_cost_kes__gte=0),
                name="logistics_outcome_actuals_positive",
            )
        ]

    def __str__(self):
        return f"Outcome of {self.route}"
