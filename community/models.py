"""The community forum (posts, threaded replies, votes, reports, follows, notifications) and
industry use cases with an optional detailed version."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.models import BaseModel, SoftDeleteModel, audit_user
from core.tags import validate_tag_name

from .choices import (
    Category,
    NotificationKind,
    PostStatus,
    Region,
    ReportReason,
    ReportStatus,
    UseCaseStatus,
    VoteValue,
)


class Tag(BaseModel):
    name = models.CharField(max_length=50, unique=True, validators=[validate_tag_name])

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ModeratedContent(SoftDeleteModel):
    """Soft-deletable content that also keeps why it was removed (the author's delete or a
    moderator hiding it with a reason)."""

    deleted_reason = models.CharField(max_length=500, blank=True, editable=False)

    _lifecycle_fields = ("deleted_at", "deleted_by", "deleted_reason")

    class Meta(SoftDeleteModel.Meta):
        abstract = True


class Post(ModeratedContent):
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="community_posts")
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown.")
    body_html = models.TextField(blank=True, editable=False, help_text="The body rendered and sanitised.")
    category = models.CharField(max_length=30, choices=Category.choices, default=Category.OTHER, db_index=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="posts")
    status = models.CharField(max_length=20, choices=PostStatus.choices, default=PostStatus.PUBLISHED, db_index=True)
    pinned = models.BooleanField(default=False, db_index=True)
    # Counters change through UPDATE ... SET x = x + n, never through save(): see services.
    view_count = models.PositiveIntegerField(default=0, editable=False)
    score = models.IntegerField(default=0, editable=False)
    reply_count = models.PositiveIntegerField(default=0, editable=False)
    has_best_answer = models.BooleanField(default=False, editable=False, db_index=True)
    last_activity_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)

    class Meta(ModeratedContent.Meta):
        ordering = ["-pinned", "-last_activity_at"]
        permissions = [("moderate_post", "Can moderate community posts, replies and reports")]
        indexes = [models.Index(fields=["-pinned", "-last_activity_at"], name="community_post_listing")]

    def __str__(self):
        return self.title

    # Fields an edit may write; counters and lifecycle fields are never written from a stale copy.
    EDITABLE_FIELDS = ("title", "body", "body_html", "category", "status", "pinned")


class Reply(ModeratedContent):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="community_replies")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        help_text="The reply answered.",
    )
    body = models.TextField(help_text="Markdown.")
    body_html = models.TextField(blank=True, editable=False)
    score = models.IntegerField(default=0, editable=False)
    is_best_answer = models.BooleanField(default=False, editable=False)

    class Meta(ModeratedContent.Meta):
        ordering = ["created_at"]
        verbose_name_plural = "replies"
        constraints = [
            # The best answer is a flag on a reply of the post, so "a reply of this post" holds by
            # construction; this makes it at most one per post.
            models.UniqueConstraint(
                fields=["post"],
                condition=Q(is_best_answer=True),
                name="community_reply_one_best_answer_per_post",
                violation_error_message="This post already has a best answer.",
            ),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="community_reply_not_own_parent"),
        ]
        indexes = [models.Index(fields=["post", "created_at"], name="community_reply_thread")]

    EDITABLE_FIELDS = ("body", "body_html")

    def __str__(self):
        excerpt = " ".join(self.body.split())[:60]
        return f"{excerpt}…" if len(self.body) > 60 else excerpt


class Vote(models.Model):
    """One member's +1 or -1 on one post or one reply. Hard rows: removing a vote deletes it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_votes")
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.CASCADE, related_name="votes")
    reply = models.ForeignKey(Reply, null=True, blank=True, on_delete=models.CASCADE, related_name="votes")
    value = models.SmallIntegerField(choices=VoteValue.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "post"], condition=Q(post__isnull=False), name="community_vote_one_per_member_post"
            ),
            models.UniqueConstraint(
                fields=["user", "reply"], condition=Q(reply__isnull=False), name="community_vote_one_per_member_reply"
            ),
            models.CheckConstraint(
                condition=Q(post__isnull=False, reply__isnull=True) | Q(post__isnull=True, reply__isnull=False),
                name="community_vote_exactly_one_target",
            ),
            models.CheckConstraint(condition=Q(value__in=[1, -1]), name="community_vote_value_up_or_down"),
        ]

    def __str__(self):
        return f"{self.value:+d} by {self.user_id}"


class PostView(models.Model):
    """A member read a post on a day; the post's view count grows once per row."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="views")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "user", "day"], name="community_postview_once_per_day"),
        ]

    def __str__(self):
        return f"{self.user_id} read {self.post_id} on {self.day}"


class Report(BaseModel):
    """A member flags a post or a reply for moderators."""

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_reports")
    post = models.ForeignKey(Post, null=True, blank=True, on_delete=models.CASCADE, related_name="reports")
    reply = models.ForeignKey(Reply, null=True, blank=True, on_delete=models.CASCADE, related_name="reports")
    reason = models.CharField(max_length=20, choices=ReportReason.choices)
    text = models.TextField(blank=True, max_length=2000)
    status = models.CharField(max_length=20, choices=ReportStatus.choices, default=ReportStatus.OPEN, db_index=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolution_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(post__isnull=False, reply__isnull=True) | Q(post__isnull=True, reply__isnull=False),
                name="community_report_exactly_one_target",
            ),
            models.UniqueConstraint(
                fields=["reporter", "post"],
                condition=Q(status=ReportStatus.OPEN, post__isnull=False),
                name="community_report_one_open_per_member_post",
            ),
            models.UniqueConstraint(
                fields=["reporter", "reply"],
                condition=Q(status=ReportStatus.OPEN, reply__isnull=False),
                name="community_report_one_open_per_member_reply",
            ),
            models.CheckConstraint(condition=Q(reason__in=ReportReason.values), name="community_report_reason_known"),
        ]

    def __str__(self):
        return f"{self.get_reason_display()} report on {'reply' if self.reply_id else 'post'}"

    @property
    def target(self):
        return self.reply if self.reply_id else self.post


class Subscription(models.Model):
    """A member follows a post and is told about its new replies."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_follows")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="subscriptions")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "post"], name="community_subscription_unique")]

    def __str__(self):
        return f"{self.user_id} follows {self.post_id}"


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="community_notifications"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    reply = models.ForeignKey(Reply, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["recipient", "read_at", "-created_at"], name="community_notification_inbox")]

    def __str__(self):
        return f"{self.kind} for {self.recipient_id}"


class NotificationPreference(models.Model):
    """Per-member notification settings (absent row = in-app only)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="community_preference"
    )
    email_on_reply = models.BooleanField(default=False, help_text="Also send an email for each new reply followed.")

    def __str__(self):
        return f"preferences of {self.user_id}"


class UseCase(ModeratedContent):
    # The one audit key a read filters on: drafts are shown to whoever wrote them
    # (``community.selectors.visible_use_cases``). A small table written by people, so it costs nothing.
    created_by = audit_user(db_index=True)
    title = models.CharField(max_length=200)
    company = models.CharField(max_length=200)
    industry = models.CharField(max_length=100, db_index=True)
    region = models.CharField(max_length=20, choices=Region.choices, db_index=True)
    city = models.CharField(max_length=100, db_index=True)
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)], db_index=True)
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)], db_index=True)
    summary = models.TextField()
    technologies = models.JSONField(default=list, blank=True, help_text='e.g. ["PLC", "OPC UA", "vibration sensors"]')
    tags = models.ManyToManyField(Tag, blank=True, related_name="use_cases")
    outcomes = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=UseCaseStatus.choices, default=UseCaseStatus.PUBLISHED, db_index=True
    )

    class Meta(ModeratedContent.Meta):
        ordering = ["title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90), name="community_usecase_latitude_range"
            ),
            models.CheckConstraint(
                condition=Q(longitude__gte=-180, longitude__lte=180), name="community_usecase_longitude_range"
            ),
        ]
        indexes = [models.Index(fields=["latitude", "longitude"], name="community_usecase_position")]

    def __str__(self):
        return self.title


class UseCaseDetail(BaseModel):
    """The detailed (enterprise) version of a use case; each part is JSON checked against
    ``community.schemas`` on every write."""

    use_case = models.OneToOneField(UseCase, on_delete=models.CASCADE, related_name="detail")
    challenge = models.JSONField()
    solution = models.JSONField()
    implementation_phases = models.JSONField()
    results = models.JSONField()

    def __str__(self):
        return f"Details of {self.use_case}"
