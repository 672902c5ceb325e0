from rest_framework import serializers

from community.choices import Category, PostStatus, Region, ReportReason, ReportResolution, UseCaseStatus
from community.models import Notification, Post, Reply, Report, Subscription, UseCase
from core.api.serializers import (
    AUDIT_FIELDS,
    SOFT_DELETE_FIELDS,
    BaseModelSerializer,
    InputSerializer,
    SafeJSONField,
    check_no_nul,
)
from core.tags import normalise_tag_name, validate_tag_name

MAX_BODY = 50_000


class TextField(serializers.CharField):
    """Text that PostgreSQL can store (no NUL characters)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(check_no_nul)


class TagListField(serializers.ListField):
    """Written as a list of names; read from the row's (prefetched) tags."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", TextField(max_length=50, validators=[validate_tag_name]))
        kwargs.setdefault("max_length", 10)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, list):
            data = [normalise_tag_name(item) if isinstance(item, str) else item for item in data]
        return super().to_internal_value(data)

    def to_representation(self, data):
        return sorted(tag.name for tag in data.all())


class PostSerializer(BaseModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    deleted_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    title = TextField(max_length=200)
    body = TextField(max_length=MAX_BODY, help_text="Markdown; raw HTML is shown as text.")
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    status = serializers.ChoiceField(
        choices=PostStatus.choices,
        required=False,
        help_text="New posts are draft or published; closing, reopening and archiving are moderators' actions.",
    )
    tags = TagListField()
    best_answer = serializers.UUIDField(source="best_answer_id", read_only=True, allow_null=True)
    my_vote = serializers.IntegerField(read_only=True, allow_null=True, help_text="Your vote: 1, -1 or null.")

    class Meta:
        model = Post
        fields = (
            *AUDIT_FIELDS,
            *SOFT_DELETE_FIELDS,
            "deleted_by",
            "deleted_reason",
            "author",
            "title",
            "body",
            "body_html",
            "category",
            "tags",
            "status",
            "pinned",
            "view_count",
            "score",
            "reply_count",
            "has_best_answer",
            "best_answer",
            "last_activity_at",
            "my_vote",
        )
        read_only_fields = (
            "deleted_at",
            "deleted_reason",
            "body_html",
            "view_count",
            "score",
            "reply_count",
            "has_best_answer",
            "last_activity_at",
        )


class ReplySerializer(BaseModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    post = serializers.PrimaryKeyRelatedField(queryset=Post.objects.all())
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Reply.all_objects.all(), required=False, allow_null=True, help_text="The reply this one answers."
    )
    body = TextField(max_length=MAX_BODY, help_text="Markdown; raw HTML is shown as text.")
    is_deleted = serializers.BooleanField(read_only=True)
    my_vote = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Reply
        fields = (
            *AUDIT_FIELDS,
            *SOFT_DELETE_FIELDS,
            "deleted_reason",
            "is_deleted",
            "post",
            "parent",
            "author",
            "body",
            "body_html",
            "score",
            "is_best_answer",
            "my_vote",
        )
        read_only_fields = ("deleted_at", "deleted_reason", "body_html", "score", "is_best_answer")

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            # The thread of a reply is fixed at creation.
            fields["post"].read_only = True
            fields["parent"].read_only = True
        return fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if instance.is_deleted and not self.context.get("show_deleted_content"):
            # A hidden reply names nobody: its author is in the audit fields as well.
            data.update(author=None, body="", body_html="", created_by=None, updated_by=None)
        return data


class TreeReplySerializer(ReplySerializer):
    depth = serializers.SerializerMethodField()

    class Meta(ReplySerializer.Meta):
        fields = (*ReplySerializer.Meta.fields, "depth")

    def get_depth(self, obj) -> int:
        return obj.tree_depth


class PostDetailSerializer(PostSerializer):
    replies = serializers.SerializerMethodField(help_text="The whole reply tree, flat in tree order with depth.")

    class Meta(PostSerializer.Meta):
        fields = (*PostSerializer.Meta.fields, "replies")

    def get_replies(self, obj) -> list[dict]:
        tree = self.context.get("reply_tree", [])
        for reply, depth in tree:
            reply.tree_depth = depth
        return TreeReplySerializer([reply for reply, _ in tree], many=True, context=self.context).data


class VoteInputSerializer(InputSerializer):
    value = serializers.ChoiceField(choices=[1, -1, 0], help_text="1 up, -1 down, 0 removes your vote.")


class VoteResultSerializer(serializers.Serializer):
    score = serializers.IntegerField()
    my_vote = serializers.IntegerField(source="value")


class ViewResultSerializer(serializers.Serializer):
    counted = serializers.BooleanField(help_text="False when your view was already counted today.")
    view_count = serializers.IntegerField()


class BestAnswerInputSerializer(InputSerializer):
    reply = serializers.UUIDField()


class HideInputSerializer(InputSerializer):
    reason = TextField(max_length=400)


class HistoryEntrySerializer(serializers.Serializer):
    version = serializers.IntegerField()
    changed_at = serializers.DateTimeField(source="history_date")
    changed_by = serializers.CharField(source="history_user.username", default=None, allow_null=True)
    change = serializers.CharField(source="get_history_type_display")
    title = serializers.CharField(required=False)
    body = serializers.CharField()
    status = serializers.CharField(required=False)


class ReportSerializer(BaseModelSerializer):
    reporter = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    post = serializers.PrimaryKeyRelatedField(queryset=Post.objects.all(), required=False, allow_null=True)
    reply = serializers.PrimaryKeyRelatedField(queryset=Reply.objects.all(), required=False, allow_null=True)
    reason = serializers.ChoiceField(choices=ReportReason.choices)
    text = TextField(max_length=2000, required=False, allow_blank=True)

    class Meta:
        model = Report
        fields = (
            *AUDIT_FIELDS,
            "reporter",
            "post",
            "reply",
            "reason",
            "text",
            "status",
            "resolved_by",
            "resolved_at",
            "resolution_note",
        )
        read_only_fields = ("status", "resolved_at", "resolution_note")


class ResolveInputSerializer(InputSerializer):
    resolution = serializers.ChoiceField(choices=ReportResolution.choices)
    note = TextField(max_length=500, required=False, allow_blank=True)


class SubscriptionSerializer(serializers.ModelSerializer):
    post = serializers.PrimaryKeyRelatedField(queryset=Post.objects.all())
    post_title = serializers.CharField(source="post.title", read_only=True)

    class Meta:
        model = Subscription
        fields = ("id", "post", "post_title", "created_at")
        read_only_fields = ("id", "created_at")


class SubscriptionInputSerializer(InputSerializer):
    post = serializers.PrimaryKeyRelatedField(queryset=Post.objects.all())


class NotificationSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    post_title = serializers.CharField(source="post.title", read_only=True)
    unread = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ("id", "kind", "post", "post_title", "reply", "actor", "created_at", "read_at", "unread")
        read_only_fields = fields

    def get_unread(self, obj) -> bool:
        return obj.read_at is None


class PreferenceSerializer(InputSerializer):
    email_on_reply = serializers.BooleanField()


class UseCaseSerializer(BaseModelSerializer):
    title = TextField(max_length=200)
    company = TextField(max_length=200)
    industry = TextField(max_length=100)
    region = serializers.ChoiceField(choices=Region.choices)
    city = TextField(max_length=100)
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    summary = TextField(max_length=MAX_BODY)
    outcomes = TextField(max_length=MAX_BODY, required=False, allow_blank=True)
    technologies = serializers.ListField(child=TextField(max_length=100), max_length=50, required=False)
    tags = TagListField()
    status = serializers.ChoiceField(choices=UseCaseStatus.choices, required=False)
    detail = SafeJSONField(
        required=False,
        allow_null=True,
        help_text="The detailed version: {challenge, solution, implementation_phases, results}; null removes it.",
    )
    distance_km = serializers.SerializerMethodField(help_text="Distance from ?near=, when given.")

    class Meta:
        model = UseCase
        fields = (
            *AUDIT_FIELDS,
            *SOFT_DELETE_FIELDS,
            "deleted_reason",
            "title",
            "company",
            "industry",
            "region",
            "city",
            "latitude",
            "longitude",
            "summary",
            "technologies",
            "tags",
            "outcomes",
            "status",
            "detail",
            "distance_km",
        )
        read_only_fields = ("deleted_at", "deleted_reason")

    def get_distance_km(self, obj) -> float | None:
        distance = getattr(obj, "distance_km", None)
        return round(distance, 2) if distance is not None else None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        try:
            detail = instance.detail
        except UseCase.detail.RelatedObjectDoesNotExist:
            detail = None
        data["detail"] = (
            {
                "challenge": detail.challenge,
                "solution": detail.solution,
                "implementation_phases": detail.implementation_phases,
                "results": detail.results,
                "updated_at": detail.updated_at,
            }
            if detail is not None
            else None
        )
        return data
