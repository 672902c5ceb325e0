from django.db import models


class Priority(models.TextChoices):
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Handling(models.TextChoices):
    GENERAL = "general", "General"
    FRESH_FOOD = "fresh_food", "Fresh food"
    FRAGILE = "fragile", "Fragile"
    HAZARDOUS = "hazardous", "Hazardous"


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ASSIGNED = "assigned", "Assigned"
    IN_TRANSIT = "in_transit", "In transit"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# Statuses in which an order travels on (or is booked onto) a route.
ORDER_ON_ROUTE = (OrderStatus.ASSIGNED, OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED, OrderStatus.FAILED)


class VehicleStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    LOADING = "loading", "Loading"
    IN_TRANSIT = "in_transit", "In transit"
    MAINTENANCE = "maintenance", "Maintenance"
    UNAVAILABLE = "unavailable", "Unavailable"


class RouteStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class DecisionType(models.TextChoices):
    DAILY_ROUTE_PLANNING = "daily_route_planning", "Daily route planning"
    REPLAN = "replan", "Re-plan routes not started"


class DecisionStatus(models.TextChoices):
    SOLVING = "solving", "Solving"
    PROPOSED = "proposed", "Proposed"
    FAILED = "failed", "Failed"
    COMMITTED = "committed", "Committed"


class DeliveryResult(models.TextChoices):
    ON_TIME = "on_time", "On time"
    LATE = "late", "Late"
    FAILED = "failed", "Failed"


class LeftOutReason(models.TextChoices):
    TOO_HEAVY = "too_heavy", "Too heavy or bulky for any vehicle"
    WINDOW_UNREACHABLE = "window_unreachable", "Delivery window cannot be reached"
    NO_COMPATIBLE_VEHICLE = "no_compatible_vehicle", "No compatible vehicle"
    NOT_WORTH_A_VEHICLE = "not_worth_a_vehicle", "Not worth a vehicle"
    NO_CAPACITY_LEFT = "no_capacity_left", "No capacity left on the fleet"


class CompatibilityClass(models.TextChoices):
    """Goods that may share a vehicle: fresh food and hazardous goods each travel with their own kind only."""

    GENERAL = "general", "General"
    FRESH_FOOD = "fresh_food", "Fresh food"
    HAZARDOUS = "hazardous", "Hazardous"


def compatibility_class(handling: str) -> str:
    if handling == Handling.FRESH_FOOD:
        return CompatibilityClass.FRESH_FOOD
    if handling == Handling.HAZARDOUS:
        return CompatibilityClass.HAZARDOUS
    return CompatibilityClass.GENERAL
