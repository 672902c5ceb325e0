import django_filters

from core.api.filters import FilterSet, IsoDateTimeFilter
from logistics.choices import DecisionStatus, DecisionType, Handling, OrderStatus, Priority, RouteStatus, VehicleStatus
from logistics.models import Customer, Decision, OperationalOutcome, Order, Route, Vehicle


class CustomerFilter(FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Customer
        fields = ("reference", "name")


class OrderFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    handling = django_filters.MultipleChoiceFilter(choices=Handling.choices)
    destination = django_filters.CharFilter(
        field_name="destination_city", lookup_expr="iexact", label="Destination city"
    )
    destination_contains = django_filters.CharFilter(field_name="destination_city", lookup_expr="icontains")
    window_from = IsoDateTimeFilter(field_name="window_end", lookup_expr="gte", label="Window ends at or after")
    window_to = IsoDateTimeFilter(field_name="window_start", lookup_expr="lte", label="Window starts at or before")
    created_from = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_to = IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Order
        fields = ("status", "priority", "handling", "customer", "hub", "route")


class VehicleFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=VehicleStatus.choices)

    class Meta:
        model = Vehicle
        fields = ("status", "vehicle_type", "refrigerated", "hazmat_certified", "home_hub")


class RouteFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=RouteStatus.choices)
    start_from = IsoDateTimeFilter(field_name="planned_start", lookup_expr="gte")
    start_to = IsoDateTimeFilter(field_name="planned_start", lookup_expr="lte")
    destination = django_filters.CharFilter(method="filter_destination", label="Passes through this city")

    class Meta:
        model = Route
        fields = ("status", "vehicle", "decision")

    def filter_destination(self, queryset, name, value):
        return queryset.filter(stops__city__iexact=value).distinct()


class DecisionFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=DecisionStatus.choices)
    decision_type = django_filters.MultipleChoiceFilter(choices=DecisionType.choices)
    created_from = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_to = IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Decision
        fields = ("status", "decision_type")


class OutcomeFilter(FilterSet):
    created_from = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_to = IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = OperationalOutcome
        fields = ("route", "decision")
