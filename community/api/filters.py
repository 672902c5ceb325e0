import django_filters
from django.db.models import Q
from rest_framework.exceptions import ValidationError

from community.choices import Category, PostStatus, Region, ReportReason, ReportStatus, UseCaseStatus
from community.models import Post, Reply, Report, UseCase
from core.api.filters import FilterSet


class PostFilter(FilterSet):
    category = django_filters.MultipleChoiceFilter(choices=Category.choices)
    status = django_filters.MultipleChoiceFilter(choices=PostStatus.choices)
    tag = django_filters.CharFilter(method="filter_tag", label="Has this tag")
    author = django_filters.CharFilter(field_name="author__username", label="Author's username")
    pinned = django_filters.BooleanFilter()
    has_best_answer = django_filters.BooleanFilter()
    unanswered = django_filters.BooleanFilter(method="filter_unanswered", label="No replies yet")

    class Meta:
        model = Post
        fields = ("category", "status", "pinned", "has_best_answer")

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__name=value.strip().lower())

    def filter_unanswered(self, queryset, name, value):
        return queryset.filter(reply_count=0) if value else queryset.filter(reply_count__gt=0)


class ReplyFilter(FilterSet):
    post = django_filters.UUIDFilter(field_name="post_id")
    author = django_filters.CharFilter(field_name="author__username")
    is_best_answer = django_filters.BooleanFilter()

    class Meta:
        model = Reply
        fields = ("post", "author", "is_best_answer")


class ReportFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ReportStatus.choices)
    reason = django_filters.MultipleChoiceFilter(choices=ReportReason.choices)

    class Meta:
        model = Report
        fields = ("status", "reason")


class NotificationFilter(FilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", label="Unread only")


def parse_near(raw: str) -> tuple[float, float]:
    try:
        lat_text, lon_text = raw.split(",")
        latitude, longitude = float(lat_text), float(lon_text)
    except ValueError:
        raise ValidationError({"near": ["Give a point as latitude,longitude, e.g. 24.7136,46.6753."]}) from None
    errors = {}
    if not -90 <= latitude <= 90:
        errors["near"] = ["Latitude must be between -90 and 90."]
    elif not -180 <= longitude <= 180:
        errors["near"] = ["Longitude must be between -180 and 180."]
    if errors:
        raise ValidationError(errors)
    return latitude, longitude


class UseCaseFilter(FilterSet):
    industry = django_filters.CharFilter(lookup_expr="iexact")
    region = django_filters.MultipleChoiceFilter(choices=Region.choices)
    city = django_filters.CharFilter(lookup_expr="iexact")
    status = django_filters.MultipleChoiceFilter(choices=UseCaseStatus.choices)
    tag = django_filters.CharFilter(method="filter_tag", label="Has this tag")
    q = django_filters.CharFilter(method="filter_q", label="Words in title, company, summary or outcomes")

    class Meta:
        model = UseCase
        fields = ("industry", "region", "city", "status")

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__name=value.strip().lower())

    def filter_q(self, queryset, name, value):
        for word in value.split():
            queryset = queryset.filter(
                Q(title__icontains=word)
                | Q(company__icontains=word)
                | Q(summary__icontains=word)
                | Q(outcomes__icontains=word)
            )
        return queryset
