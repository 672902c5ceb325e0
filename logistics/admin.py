from django.contrib import admin
from django.utils.html import format_html, format_html_join

from core.admin import BaseModelAdmin, RecordAdmin

from . import services
from .models import (
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


class ServiceAdmin(BaseModelAdmin):
    """Writes through ``create`` / ``update`` service functions."""

    create = None
    update = None
    update_kwarg = ""

    def write(self, request, form, change):
        if change:
            return type(self).update(**{self.update_kwarg: self.current(form.instance)}, **form.changes())
        return type(self).create(**form.model_data())


@admin.register(Hub)
class HubAdmin(ServiceAdmin):
    create, update, update_kwarg = staticmethod(services.hub_create), staticmethod(services.hub_update), "hub"
    list_display = ("name", "latitude", "longitude", "opening_time", "closing_time")
    search_fields = ("name", "address")


@admin.register(Customer)
class CustomerAdmin(ServiceAdmin):
    create, update, update_kwarg = (
        staticmethod(services.customer_create),
        staticmethod(services.customer_update),
        "customer",
    )
    list_display = ("reference", "name", "email", "phone")
    search_fields = ("reference", "name", "email")


@admin.register(Order)
class OrderAdmin(ServiceAdmin):
    create, update, update_kwarg = staticmethod(services.order_create), staticmethod(services.order_update), "order"
    list_display = (
        "reference",
        "customer",
        "destination_city",
        "weight_t",
        "volume_m3",
        "window_start",
        "window_end",
        "priority",
        "handling",
        "status",
        "route",
    )
    list_filter = ("status", "priority", "handling", "destination_city", "hub")
    search_fields = ("reference", "destination_city", "customer__name")
    date_hierarchy = "window_start"
    list_select_related = ("customer", "route")
    readonly_fields = ("route",)
    raw_id_fields = ("customer",)


@admin.register(Vehicle)
class VehicleAdmin(ServiceAdmin):
    create, update, update_kwarg = (
        staticmethod(services.vehicle_create),
        staticmethod(services.vehicle_update),
        "vehicle",
    )
    list_display = (
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
    list_filter = ("status", "vehicle_type", "refrigerated", "hazmat_certified", "home_hub")
    search_fields = ("reference",)


class RouteStopInline(admin.TabularInline):
    model = RouteStop
    fields = ("sequence", "order", "city", "leg_distance_km", "estimated_arrival", "actual_arrival")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("sequence",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Route)
class RouteAdmin(RecordAdmin):
    list_display = ("reference", "vehicle", "status", "planned_start", "distance_km", "duration_min", "cost_kes")
    list_filter = ("status",)
    search_fields = ("reference", "vehicle__reference")
    list_select_related = ("vehicle",)
    inlines = (RouteStopInline,)


def _table(rows, columns):
    """An HTML table of ``rows`` (dicts); every cell is escaped here, whatever the caller passes."""
    head = format_html_join("", "<th>{}</th>", ((c,) for c in columns))
    cells = (format_html_join("", "<td>{}</td>", ((row.get(c, ""),) for c in columns)) for row in rows)
    body = format_html_join("", "<tr>{}</tr>", ((row,) for row in cells))
    return format_html("<table><tr>{}</tr>{}</table>", head, body)


@admin.register(Decision)
class DecisionAdmin(RecordAdmin):
    list_display = (
        "created_at",
        "decision_type",
        "status",
        "orders_routed",
        "total_cost_kes",
        "computation_ms",
        "committed_at",
    )
    list_filter = ("status", "decision_type")
    readonly_fields = ("plan_readable", "left_out_readable", "state_snapshot", "plan", "solver_stats")
    exclude = ("left_out",)

    @admin.display(description="proposed routes")
    def plan_readable(self, obj):
        rows = [
            {
                "vehicle": r["vehicle"],
                "stops": " → ".join(f"{s['order']} ({s['city']}, {s['estimated_arrival'][:16]})" for s in r["stops"]),
                "distance_km": r["distance_km"],
                "duration_min": r["duration_min"],
                "cost_kes": r["cost_kes"],
            }
            for r in obj.plan.get("routes", [])
        ]
        return _table(rows, ["vehicle", "stops", "distance_km", "duration_min", "cost_kes"])

    @admin.display(description="orders left out")
    def left_out_readable(self, obj):
        return _table(obj.left_out, ["order", "reason_text"])


@admin.register(OperationalOutcome)
class OutcomeAdmin(RecordAdmin):
    list_display = (
        "route",
        "created_at",
        "actual_cost_kes",
        "cost_error_pct",
        "duration_error_pct",
        "distance_error_pct",
        "on_time_count",
        "late_count",
        "failed_count",
    )
    list_select_related = ("route",)


class RateInline(admin.TabularInline):
    """Shown with the cost model; changed under Vehicle type rates, through the service."""

    model = VehicleTypeRate
    fields = ("vehicle_type", "fuel_cost_per_km", "driver_cost_per_hour", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CostModel)
class CostModelAdmin(BaseModelAdmin):
    list_display = (
        "__str__",
        "average_speed_kmh",
        "road_factor",
        "fixed_cost_per_vehicle",
        "outcomes_applied",
        "updated_at",
    )
    readonly_fields = ("outcomes_applied",)
    inlines = (RateInline,)

    def write(self, request, form, change):
        if change:
            return services.cost_model_update(cost_model=self.current(form.instance), **form.changes())
        return services.cost_model_create(**form.model_data())


@admin.register(VehicleTypeRate)
class VehicleTypeRateAdmin(BaseModelAdmin):
    list_display = ("vehicle_type", "fuel_cost_per_km", "driver_cost_per_hour", "cost_model", "updated_at")

    def write(self, request, form, change):
        data = form.model_data()
        if change:
            current = self.current(form.instance)
            data = {"cost_model": current.cost_model, "vehicle_type": current.vehicle_type, **form.changes()}
        return services.rate_set(
            cost_model=data["cost_model"],
            vehicle_type=data["vehicle_type"],
            fuel_cost_per_km=data.get("fuel_cost_per_km", form.instance.fuel_cost_per_km),
            driver_cost_per_hour=data.get("driver_cost_per_hour", form.instance.driver_cost_per_hour),
        )
