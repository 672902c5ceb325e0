import django_filters
from django.db.models import Q
from rest_framework.exceptions import ValidationError

from core.api.filters import FilterSet
from registry.choices import BuildType, Priority, Protocol, ServiceStatus
from registry.models import Service


def _names(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


class ServiceFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ServiceStatus.choices)
    build_type = django_filters.MultipleChoiceFilter(choices=BuildType.choices)
    protocol = django_filters.MultipleChoiceFilter(choices=Protocol.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    required = django_filters.BooleanFilter()
    enabled = django_filters.BooleanFilter()
    auto_start = django_filters.BooleanFilter()
    tags = django_filters.CharFilter(method="filter_tags_all", label="Has all of these tags (comma-separated)")
    tags_any = django_filters.CharFilter(method="filter_tags_any", label="Has any of these tags (comma-separated)")
    stale_minutes = django_filters.NumberFilter(
        method="filter_stale", min_value=0, max_value=5_256_000, label="Enabled and not seen for this many minutes"
    )
    q = django_filters.CharFilter(method="filter_q", label="Search name, display name, description, tags")

    class Meta:
        model = Service
        fields = ("status", "build_type", "protocol", "priority", "required", "enabled", "auto_start")

    def filter_tags_all(self, queryset, name, value):
        return queryset.with_all_tags(_names(value))

    def filter_tags_any(self, queryset, name, value):
        return queryset.with_any_tags(_names(value))

    def filter_stale(self, queryset, name, value):
        if value != int(value):
            raise ValidationError({"stale_minutes": ["Enter a whole number of minutes."]})
        return queryset.stale(int(value))

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        tagged = Service.tags.through.objects.filter(tag__name=value.lower()).values("service_id")
        return queryset.filter(
            Q(name__icontains=value)
            | Q(display_name__icontains=value)
            | Q(description__icontains=value)
            | Q(pk__in=tagged)
        )
