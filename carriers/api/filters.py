import django_filters
from django import forms
from django.db.models import Q
from rest_framework.exceptions import ValidationError

from core.api.filters import FilterSet, IsoDateTimeFilter

from ..choices import CallOutcome, FollowUpReason, LoadStatus, NegotiationStatus, Sentiment, USState
from ..models import Call, Carrier, FollowUp, Load, Negotiation
from ..normalize import InvalidMCNumber, normalize_equipment, normalize_mc_number

# Django recomputes an enum's ``values`` list on every access.
STATE_CODES = frozenset(USState.values)


class StateCodeField(forms.CharField):
    """A two-letter US state code, any case. Matched exactly: "IL" must never match "Mobile, AL"."""

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return value
        code = value.upper()
        if code not in STATE_CODES:
            raise forms.ValidationError(
                "'%(value)s' is not a two-letter US state code.", code="invalid", params={"value": value}
            )
        return code


class EquipmentTypeField(forms.CharField):
    """An equipment type in any of its spellings ("Dry Van", "dry-van", "DRY_VAN")."""

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return value
        equipment = normalize_equipment(value)
        if equipment is None:
            raise forms.ValidationError("Unknown equipment type '%(value)s'.", code="invalid", params={"value": value})
        return equipment


class StateFilter(django_filters.CharFilter):
    field_class = StateCodeField


class EquipmentTypeFilter(django_filters.CharFilter):
    field_class = EquipmentTypeField


def _normalized_mc(name, value) -> str:
    try:
        return normalize_mc_number(value)
    except InvalidMCNumber as exc:
        raise ValidationError({name: [str(exc)]}) from None


def _mc_number(queryset, name, value):
    return queryset.filter(mc_number=_normalized_mc(name, value))


class CarrierFilter(FilterSet):
    mc_number = django_filters.CharFilter(method=_mc_number)
    dot_number = django_filters.NumberFilter()
    eligible = django_filters.BooleanFilter()
    name = django_filters.CharFilter(method="filter_name", label="Legal or DBA name contains")

    class Meta:
        model = Carrier
        fields = ("mc_number", "dot_number", "eligible", "name")

    def filter_name(self, queryset, name, value):
        return queryset.filter(Q(legal_name__icontains=value) | Q(dba_name__icontains=value))


class LoadFilter(FilterSet):
    origin_city = django_filters.CharFilter(field_name="origin_city", lookup_expr="iexact")
    origin_state = StateFilter()
    destination_city = django_filters.CharFilter(field_name="destination_city", lookup_expr="iexact")
    destination_state = StateFilter()
    equipment_type = EquipmentTypeFilter()
    pickup_from = IsoDateTimeFilter(field_name="pickup_datetime", lookup_expr="gte")
    pickup_to = IsoDateTimeFilter(field_name="pickup_datetime", lookup_expr="lte")
    min_rate = django_filters.NumberFilter(field_name="loadboard_rate", lookup_expr="gte")
    max_weight = django_filters.NumberFilter(field_name="weight", lookup_expr="lte")
    status = django_filters.ChoiceFilter(choices=LoadStatus.choices)

    class Meta:
        model = Load
        fields = (
            "origin_city",
            "origin_state",
            "destination_city",
            "destination_state",
            "equipment_type",
            "pickup_from",
            "pickup_to",
            "min_rate",
            "max_weight",
            "status",
        )


class CallFilter(FilterSet):
    outcome = django_filters.ChoiceFilter(choices=CallOutcome.choices)
    sentiment = django_filters.ChoiceFilter(choices=Sentiment.choices)
    mc_number = django_filters.CharFilter(method=_mc_number)
    started_from = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_to = IsoDateTimeFilter(field_name="started_at", lookup_expr="lte")
    load_id = django_filters.CharFilter(field_name="load__load_id")

    class Meta:
        model = Call
        fields = ("outcome", "sentiment", "mc_number", "started_from", "started_to", "load_id")


class NegotiationFilter(FilterSet):
    status = django_filters.ChoiceFilter(choices=NegotiationStatus.choices)
    load_id = django_filters.CharFilter(field_name="load__load_id")
    mc_number = django_filters.CharFilter(method="filter_mc_number")
    started_from = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    started_to = IsoDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = Negotiation
        fields = ("status", "load_id", "mc_number", "started_from", "started_to")

    def filter_mc_number(self, queryset, name, value):
        return queryset.filter(carrier__mc_number=_normalized_mc(name, value))


class FollowUpFilter(FilterSet):
    assigned_to = django_filters.CharFilter(method="filter_assigned_to", label="Username, or 'me'")
    due_before = IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")
    due_after = IsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    done = django_filters.BooleanFilter(field_name="done_at", lookup_expr="isnull", exclude=True)
    reason = django_filters.ChoiceFilter(choices=FollowUpReason.choices)

    class Meta:
        model = FollowUp
        fields = ("assigned_to", "due_before", "due_after", "done", "reason")

    def filter_assigned_to(self, queryset, name, value):
        if value == "me":
            return queryset.filter(assigned_to=self.request.user)
        return queryset.filter(assigned_to__username=value)
