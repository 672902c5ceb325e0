"""The community forum: latest and unanswered posts, activity and the most active members over a
period, and the reports waiting for a moderator (moderators only)."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts import roles
from community import dashboard_selectors, policies, selectors
from community.choices import Category, PostStatus

from .. import areas, periods
from ..charts import Chart
from ..rendering import render_page

# The API's permissions for the same lists (GET /api/v1/community/posts/ and replies).
PERMISSIONS = ("community.view_post", "community.view_reply")
POSTS_SHOWN = 10

# The API's post list with these parameters gives the same posts in the same order.
LATEST_QUERY = {"ordering": "-created_at"}
UNANSWERED_QUERY = {"unanswered": "true", "status": PostStatus.PUBLISHED, "ordering": "created_at"}


def posts_for(request):
    """The posts the API's list shows this user: live ones, drafts only to their author and moderators."""
    queryset = selectors.post_queryset(user=request.user).filter(deleted_at__isnull=True)
    return selectors.visible_posts(queryset, user=request.user, moderator=policies.is_moderator(request.user))


def latest_posts(request) -> list:
    return list(posts_for(request).order_by("-created_at")[:POSTS_SHOWN])


def unanswered_posts(request) -> tuple[int, list]:
    """Published posts nobody has answered yet, the longest waiting first."""
    queryset = posts_for(request).filter(reply_count=0, status=PostStatus.PUBLISHED).order_by("created_at")
    return queryset.count(), list(queryset[:POSTS_SHOWN])


def headline(activity: dict, unanswered: int, reports: int | None = None) -> list[dict]:
    figures = [
        {"metric": "posts", "label": "Posts", "value": f"{activity['posts']:,}"},
        {"metric": "replies", "label": "Replies", "value": f"{activity['replies']:,}"},
        {"metric": "active_members", "label": "Active members", "value": f"{activity['members']:,}"},
        {"metric": "unanswered", "label": "Unanswered now", "value": f"{unanswered:,}"},
    ]
    if reports is not None:
        figures.append({"metric": "open_reports", "label": "Open reports", "value": f"{reports:,}"})
    return figures


def charts(activity: dict, members: list, period: periods.Period) -> list[Chart]:
    days = [period.start + timedelta(days=i) for i in range(period.days)]
    empty = {"posts": 0, "replies": 0}
    labels = dict(Category.choices)
    by_category = activity["by_category"]
    return [
        Chart(
            key="activity-per-day",
            kind="bar-line",
            title="Posts and replies per day",
            category_label="Day",
            categories=[day.isoformat() for day in days],
            series=[
                ("Posts", [activity["per_day"].get(day, empty)["posts"] for day in days]),
                ("Replies", [activity["per_day"].get(day, empty)["replies"] for day in days]),
            ],
            empty_text="Nobody wrote in this period.",
        ),
        Chart(
            key="posts-by-category",
            kind="hbar",
            title="Posts by category",
            category_label="Category",
            categories=[str(labels[key]) for key in labels],
            series=[("Posts", [by_category.get(key, 0) for key in labels])],
            empty_text="No post in this period.",
        ),
        Chart(
            key="active-members",
            kind="hbar",
            title="Posts and replies of the most active members",
            category_label="Member",
            categories=[member.get_full_name() or member.username for member in members],
            series=[("Posts", [m.posts for m in members]), ("Replies", [m.replies for m in members])],
            empty_text="Nobody wrote in this period.",
        ),
    ]


def community_tile(request) -> dict:
    period = periods.preset(periods.DEFAULT)
    activity = dashboard_selectors.activity(start=period.start, end=period.end)
    unanswered = posts_for(request).filter(reply_count=0, status=PostStatus.PUBLISHED).count()
    figures = [
        {"metric": "posts", "label": "Posts", "value": f"{activity['posts']:,}"},
        {"metric": "replies", "label": "Replies", "value": f"{activity['replies']:,}"},
        {"metric": "unanswered", "label": "Unanswered now", "value": f"{unanswered:,}"},
    ]
    alert = False
    if policies.is_moderator(request.user):
        reports, _ = dashboard_selectors.open_reports(limit=0)
        figures.append({"metric": "open_reports", "label": "Open reports", "value": f"{reports:,}"})
        alert = reports > 0
    return {"note": period.label, "figures": figures, "alert": alert}


AREA = areas.register(
    areas.Area(
        key="community",
        title="Community",
        url_name="dashboard:community",
        roles=(roles.MEMBER,),
        permissions=PERMISSIONS,
        tile=community_tile,
        description="Latest and unanswered posts, most active members, reports",
        order=40,
        live_types=("community.reply.created", "community.best_answer.chosen"),
    )
)


@require_GET
@login_required
def community_page(request):
    area = areas.require(request, AREA.key)
    form, period = periods.from_request(request)
    moderator = policies.is_moderator(request.user)
    context = {"area": area, "form": form, "period": period, "presets": _presets(period), "moderator": moderator}
    status = 200
    if period is None:
        status = 400
    else:
        activity = dashboard_selectors.activity(start=period.start, end=period.end)
        members = dashboard_selectors.most_active_members(start=period.start, end=period.end)
        unanswered_total, unanswered = unanswered_posts(request)
        reports_total, reports = dashboard_selectors.open_reports() if moderator else (None, [])
        posts_api = reverse("api:community-post-list")
        context.update(
            activity=activity,
            figures=headline(activity, unanswered_total, reports_total),
            charts=charts(activity, members, period),
            members=members,
            latest=latest_posts(request),
            unanswered=unanswered,
            unanswered_total=unanswered_total,
            reports=reports,
            reports_total=reports_total,
            latest_api_url=f"{posts_api}?{urlencode(LATEST_QUERY)}",
            unanswered_api_url=f"{posts_api}?{urlencode(UNANSWERED_QUERY)}",
            reports_api_url=f"{reverse('api:community-report-list')}?status=open",
        )
    return render_page(
        request,
        template="dashboard/community.html",
        fragment="dashboard/community_body.html",
        context=context,
        area=area,
        status=status,
    )


def _presets(period):
    base = reverse("dashboard:community")
    return [
        {"key": key, "label": label, "url": f"{base}?period={key}", "active": period is not None and period.key == key}
        for key, (label, _) in periods.PRESETS.items()
    ]
