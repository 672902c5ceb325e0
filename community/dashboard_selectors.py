"""Reads the operations dashboard needs beyond what the community API lists.

The post lists on the dashboard go through ``selectors.post_queryset`` and ``visible_posts``,
as the API's post list does; what the API does not publish (activity per day, the most active
members, the moderators' open report queue with its targets) lives here. A period is whole
days in the site's time zone, ``end`` included. Only live content counts: deleted or hidden
posts and replies, replies of deleted posts and drafts are left out.
"""

from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from .choices import PostStatus, ReportStatus
from .models import Post, Reply, Report

ACTIVE_MEMBERS_SHOWN = 10
OPEN_REPORTS_SHOWN = 10


def period_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    tz = timezone.get_current_timezone()
    lower = datetime.combine(start, time.min, tzinfo=tz) if start else None
    upper = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz) if end else None
    return lower, upper


def _in(lower, upper, field="created_at") -> Q:
    q = Q()
    if lower:
        q &= Q(**{f"{field}__gte": lower})
    if upper:
        q &= Q(**{f"{field}__lt": upper})
    return q


def live_posts():
    return Post.objects.exclude(status=PostStatus.DRAFT)


def live_replies():
    return Reply.objects.filter(post__deleted_at__isnull=True).exclude(post__status=PostStatus.DRAFT)


def activity(*, start: date | None = None, end: date | None = None) -> dict:
    """Posts and replies written in the period: totals, per local day, posts per category and
    how many members wrote. Five queries."""
    lower, upper = period_bounds(start, end)
    tz = timezone.get_current_timezone()
    posts = live_posts().filter(_in(lower, upper)).order_by()
    replies = live_replies().filter(_in(lower, upper)).order_by()
    per_day: dict[date, dict] = {}
    for kind, queryset in (("posts", posts), ("replies", replies)):
        rows = queryset.annotate(day=TruncDate("created_at", tzinfo=tz)).values("day").annotate(n=Count("pk"))
        for row in rows:
            per_day.setdefault(row["day"], {"posts": 0, "replies": 0})[kind] = row["n"]
    by_category = dict(posts.values_list("category").annotate(n=Count("pk")).values_list("category", "n"))
    authors = {*posts.values_list("author_id", flat=True).distinct()}
    authors.update(replies.values_list("author_id", flat=True).distinct())
    return {
        "members": len(authors),
        "posts": sum(day["posts"] for day in per_day.values()),
        "replies": sum(day["replies"] for day in per_day.values()),
        "per_day": per_day,
        "by_category": by_category,
    }


def _count(queryset, field="author"):
    return Coalesce(
        Subquery(
            queryset.filter(**{field: OuterRef("pk")}).order_by().values(field).annotate(n=Count("pk")).values("n")[:1],
            output_field=IntegerField(),
        ),
        Value(0),
    )


def most_active_members(*, start: date | None = None, end: date | None = None, limit: int = ACTIVE_MEMBERS_SHOWN):
    """The members who wrote the most posts and replies in the period (ties by username), with
    how many of their replies are best answers. One query."""
    lower, upper = period_bounds(start, end)
    posts = live_posts().filter(_in(lower, upper))
    replies = live_replies().filter(_in(lower, upper))
    members = (
        get_user_model()
        .objects.annotate(
            posts=_count(posts),
            replies=_count(replies),
            best_answers=_count(replies.filter(is_best_answer=True)),
        )
        .annotate(contributions=F("posts") + F("replies"))
        .filter(contributions__gt=0)
        .order_by("-contributions", "username")
    )
    return list(members[:limit])


def open_reports(*, limit: int = OPEN_REPORTS_SHOWN) -> tuple[int, list[Report]]:
    """How many reports wait for a moderator, and the ``limit`` newest with their reporter and
    the reported post or reply (and its post). Two queries."""
    queryset = Report.objects.filter(status=ReportStatus.OPEN).order_by()
    total = queryset.count()
    rows = list(queryset.select_related("reporter", "post", "reply__post").order_by("-created_at")[:limit])
    return total, rows
