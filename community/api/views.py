from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from community import policies, selectors, services
from community.choices import PostStatus
from community.models import Notification, Post, Reply, Report, Subscription, UseCase, Vote
from core.api.permissions import ModelPermissions
from core.api.viewsets import BaseModelViewSet

from .filters import NotificationFilter, PostFilter, ReplyFilter, ReportFilter, UseCaseFilter, parse_near
from .serializers import (
    BestAnswerInputSerializer,
    HideInputSerializer,
    HistoryEntrySerializer,
    NotificationSerializer,
    PostDetailSerializer,
    PostSerializer,
    PreferenceSerializer,
    ReplySerializer,
    ReportSerializer,
    ResolveInputSerializer,
    SubscriptionInputSerializer,
    SubscriptionSerializer,
    UseCaseSerializer,
    ViewResultSerializer,
    VoteInputSerializer,
    VoteResultSerializer,
)

MODERATE = [policies.MODERATE_PERM]
# Members hold no delete permission: authors delete their own content, which the object check decides.
AUTHOR_WRITE = ["{app_label}.add_{model_name}"]
OWNED_ACTIONS = ("update", "partial_update", "destroy")


class CommunityPermissions(ModelPermissions):
    """Model permissions, plus: only the author (or a moderator) edits or deletes an item."""

    def has_object_permission(self, request, view, obj):
        if getattr(view, "action", None) in OWNED_ACTIONS:
            return policies.can_edit(request.user, obj)
        return True


def _payload(serializer_class, request):
    payload = serializer_class(data=request.data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


class ModeratedViewSet(BaseModelViewSet):
    permission_classes = [CommunityPermissions]
    action_permissions = {"restore": MODERATE, "destroy": AUTHOR_WRITE, "hide": MODERATE}
    reread_after_write = True  # the serializers read the queryset's annotations (the member's vote)

    def moderator(self) -> bool:
        return policies.is_moderator(self.request.user)

    def history_page(self, instance):
        """One page of the item's saved versions, newest first (as the schema publishes it)."""
        entries = instance.history.select_related("history_user").order_by("-history_date", "-history_id")
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(HistoryEntrySerializer(page, many=True).data)

    @extend_schema(request=HideInputSerializer, description="Moderators hide the item with a reason (a soft delete).")
    @action(detail=True, methods=["post"])
    def hide(self, request, pk=None):
        data = _payload(HideInputSerializer, request)
        instance = services.content_hide(instance=self.get_object(), reason=data["reason"])
        return Response(self.get_serializer(instance).data)


class PostViewSet(ModeratedViewSet):
    """Forum posts: pinned first, then latest activity. ``?q=`` searches words in titles and
    bodies, best match first."""

    queryset = Post.all_objects.all()
    serializer_class = PostSerializer
    filterset_class = PostFilter
    ordering_fields = ("last_activity_at", "created_at", "score", "view_count", "reply_count", "title")
    ordering = ("-pinned", "-last_activity_at")
    create_service = staticmethod(services.post_create)  # the author is the acting user
    update_service = staticmethod(services.post_update)
    update_instance_kwarg = "post"
    action_permissions = {
        **ModeratedViewSet.action_permissions,
        "view": ["community.view_post"],
        "vote": ["community.add_vote"],
        "best_answer": ["community.view_post"],
        "clear_best_answer": ["community.view_post"],
        "history": ["community.view_post"],
        "pin": MODERATE,
        "unpin": MODERATE,
        "close": MODERATE,
        "reopen": MODERATE,
        "archive": MODERATE,
    }

    def get_queryset(self):
        queryset = selectors.post_queryset(user=self.request.user)
        if not self.include_deleted():
            queryset = queryset.filter(deleted_at__isnull=True)
        return selectors.visible_posts(queryset, user=self.request.user, moderator=self.moderator())

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        text = self.request.query_params.get("q", "")
        if "\x00" in text:
            raise ValidationError({"q": ["Null characters are not allowed."]})
        return selectors.post_search(queryset, text) if self.action == "list" else queryset

    def get_serializer_class(self):
        return PostDetailSerializer if self.action == "retrieve" else PostSerializer

    def retrieve(self, request, *args, **kwargs):
        post = self.get_object()
        context = {
            **self.get_serializer_context(),
            "reply_tree": selectors.reply_tree(post=post, user=request.user),
            "show_deleted_content": self.moderator(),
        }
        response = Response(PostDetailSerializer(post, context=context).data)
        response["ETag"] = f'"{post.version}"'
        return response

    def _answer(self, post):
        return Response(PostSerializer(self.fresh(post), context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses=ViewResultSerializer)
    @action(detail=True, methods=["post"])
    def view(self, request, pk=None):
        """Count your view of the post (once per member per post per day)."""
        post = self.get_object()
        counted = services.post_view(post=post, user=request.user)
        post.refresh_from_db(fields=["view_count"])
        return Response(ViewResultSerializer({"counted": counted, "view_count": post.view_count}).data)

    @extend_schema(request=VoteInputSerializer, responses=VoteResultSerializer)
    @action(detail=True, methods=["post"])
    def vote(self, request, pk=None):
        """Vote the post up (1) or down (-1), or remove your vote (0). Not on your own post."""
        data = _payload(VoteInputSerializer, request)
        result = services.post_vote(post=self.get_object(), user=request.user, value=data["value"])
        return Response(VoteResultSerializer(result).data)

    @extend_schema(request=BestAnswerInputSerializer, responses=PostSerializer)
    @action(detail=True, methods=["post"], url_path="best-answer")
    def best_answer(self, request, pk=None):
        """The post's author or a moderator marks a reply of this post as the best answer."""
        data = _payload(BestAnswerInputSerializer, request)
        post = self.get_object()
        reply = Reply.objects.filter(pk=data["reply"]).first()
        if reply is None:
            raise ValidationError({"reply": ["No such reply."]})
        return self._answer(services.post_set_best_answer(post=post, reply=reply))

    @extend_schema(request=None, responses=PostSerializer)
    @best_answer.mapping.delete
    def clear_best_answer(self, request, pk=None):
        return self._answer(services.post_clear_best_answer(post=self.get_object()))

    def _status(self, status_value):
        return self._answer(services.post_set_status(post=self.get_object(), status=status_value))

    @extend_schema(request=None, responses=PostSerializer)
    @action(detail=True, methods=["post"])
    def pin(self, request, pk=None):
        return self._answer(services.post_set_pinned(post=self.get_object(), pinned=True))

    @extend_schema(request=None, responses=PostSerializer)
    @action(detail=True, methods=["post"])
    def unpin(self, request, pk=None):
        return self._answer(services.post_set_pinned(post=self.get_object(), pinned=False))

    @extend_schema(request=None, responses=PostSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """No more replies; the thread stays readable."""
        return self._status(PostStatus.CLOSED)

    @extend_schema(request=None, responses=PostSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        return self._status(PostStatus.PUBLISHED)

    @extend_schema(request=None, responses=PostSerializer)
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        return self._status(PostStatus.ARCHIVED)

    @extend_schema(responses=HistoryEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Every saved version of the post, newest first, a page at a time."""
        return self.history_page(self.get_object())


class ReplyViewSet(ModeratedViewSet):
    """Replies. Create under a published post (``parent`` answers another reply of the same
    post); authors edit and delete their own."""

    queryset = Reply.all_objects.all()
    serializer_class = ReplySerializer
    filterset_class = ReplyFilter
    ordering_fields = ("created_at", "score")
    ordering = ("created_at",)
    action_permissions = {
        **ModeratedViewSet.action_permissions,
        "vote": ["community.add_vote"],
        "history": ["community.view_reply"],
    }

    def get_queryset(self):
        queryset = Reply.all_objects.select_related("author", "created_by", "updated_by", "post")
        if not self.include_deleted():
            queryset = queryset.filter(deleted_at__isnull=True, post__deleted_at__isnull=True)
        if not self.moderator():
            queryset = queryset.exclude(post__status=PostStatus.DRAFT)
        user = self.request.user
        if user.is_authenticated:
            mine = Vote.objects.filter(reply=OuterRef("pk"), user=user).values("value")[:1]
            queryset = queryset.annotate(my_vote=Subquery(mine))
        return queryset

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "show_deleted_content": self.moderator()}

    # Explicit: the service takes only these fields (the author is the acting user), and
    # the update calls it only when the body is given.
    def perform_create(self, serializer):
        data = serializer.validated_data
        reply = services.reply_create(post=data["post"], body=data["body"], parent=data.get("parent"))
        serializer.instance = self.fresh(reply)

    def perform_update(self, serializer):
        data = serializer.validated_data
        reply = serializer.instance
        if "body" in data:  # a PATCH without a body changes nothing
            reply = services.reply_update(reply=reply, body=data["body"])
        serializer.instance = self.fresh(reply)

    @extend_schema(request=VoteInputSerializer, responses=VoteResultSerializer)
    @action(detail=True, methods=["post"])
    def vote(self, request, pk=None):
        data = _payload(VoteInputSerializer, request)
        result = services.reply_vote(reply=self.get_object(), user=request.user, value=data["value"])
        return Response(VoteResultSerializer(result).data)

    @extend_schema(responses=HistoryEntrySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """Every saved version of the reply, newest first, a page at a time."""
        return self.history_page(self.get_object())


class ReportViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Members report a post or a reply; moderators see the queue and resolve reports. Others
    see their own reports."""

    queryset = Report.objects.select_related("reporter", "resolved_by", "created_by", "updated_by")
    serializer_class = ReportSerializer
    filterset_class = ReportFilter
    ordering_fields = ("created_at", "resolved_at")
    ordering = ("-created_at",)
    permission_classes = [ModelPermissions]
    action_permissions = {"resolve": MODERATE}

    def get_queryset(self):
        queryset = super().get_queryset()
        if policies.is_moderator(self.request.user):
            return queryset
        return queryset.filter(reporter=self.request.user)

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.report_create(
            reporter=self.request.user,
            reason=data["reason"],
            text=data.get("text", ""),
            post=data.get("post"),
            reply=data.get("reply"),
        )

    @extend_schema(request=ResolveInputSerializer, responses=ReportSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """``hide`` hides the reported content and closes every open report on it; ``dismiss``
        closes this report."""
        data = _payload(ResolveInputSerializer, request)
        report = services.report_resolve(
            report=self.get_object(), resolution=data["resolution"], note=data.get("note", "")
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=report.pk)).data)


class SubscriptionViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The posts you follow. ``POST {"post": id}`` follows; ``DELETE subscriptions/{post id}/``
    unfollows."""

    queryset = Subscription.objects.select_related("post")
    serializer_class = SubscriptionSerializer
    permission_classes = [ModelPermissions]
    lookup_field = "post"
    ordering = ("-created_at",)
    ordering_fields = ("created_at",)
    action_permissions = {"destroy": ["community.add_subscription"]}

    def get_queryset(self):
        return super().get_queryset().filter(user=self.request.user, post__deleted_at__isnull=True)

    @extend_schema(request=SubscriptionInputSerializer, responses={201: SubscriptionSerializer})
    def create(self, request):
        data = _payload(SubscriptionInputSerializer, request)
        subscription, created = services.subscription_follow(user=request.user, post=data["post"])
        return Response(
            self.get_serializer(subscription).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def perform_destroy(self, instance):
        services.subscription_unfollow(user=self.request.user, post=instance.post)


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your notifications, newest first; ``?unread=true`` for the unread ones."""

    queryset = Notification.objects.select_related("actor", "post")
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    permission_classes = [ModelPermissions]
    ordering = ("-created_at",)
    ordering_fields = ("created_at",)
    action_permissions = {
        "read": ["community.view_notification"],
        "read_all": ["community.view_notification"],
        "preferences": ["community.view_notification"],
        "update_preferences": ["community.view_notification"],
    }

    def get_queryset(self):
        return super().get_queryset().filter(recipient=self.request.user)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = services.notification_mark_read(notification=self.get_object(), user=request.user)
        return Response(self.get_serializer(notification).data)

    @extend_schema(request=None, responses=dict)
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked_read": services.notifications_mark_all_read(user=request.user)})

    @extend_schema(request=None, responses=PreferenceSerializer)
    @action(detail=False, methods=["get"])
    def preferences(self, request):
        preference = getattr(request.user, "community_preference", None)
        return Response({"email_on_reply": bool(preference and preference.email_on_reply)})

    @extend_schema(request=PreferenceSerializer, responses=PreferenceSerializer)
    @preferences.mapping.put
    def update_preferences(self, request):
        data = _payload(PreferenceSerializer, request)
        preference = services.preference_update(user=request.user, email_on_reply=data["email_on_reply"])
        return Response({"email_on_reply": preference.email_on_reply})


NEAR_PARAMS = [
    OpenApiParameter("near", str, description="A point as latitude,longitude, e.g. 26.4207,50.0888."),
    OpenApiParameter("radius_km", float, description="With near: only use cases this close (default 50, max 5000)."),
]


class UseCaseViewSet(ModeratedViewSet):
    """Industry use cases. ``?near=lat,lon&radius_km=`` finds those within the radius, nearest
    first, each with ``distance_km``. The detailed version is embedded as ``detail``."""

    queryset = UseCase.all_objects.all()
    serializer_class = UseCaseSerializer
    filterset_class = UseCaseFilter
    ordering_fields = ("title", "created_at", "city")
    ordering = ("title",)
    create_service = staticmethod(services.use_case_create)
    update_service = staticmethod(services.use_case_update)
    update_instance_kwarg = "use_case"

    def get_queryset(self):
        queryset = selectors.use_case_queryset()
        if not self.include_deleted():
            queryset = queryset.filter(deleted_at__isnull=True)
        return selectors.visible_use_cases(queryset, user=self.request.user, moderator=self.moderator())

    @extend_schema(parameters=NEAR_PARAMS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        near = self.request.query_params.get("near")
        radius = self.request.query_params.get("radius_km")
        if near is None:
            if radius is not None:
                raise ValidationError({"radius_km": ["Give near=latitude,longitude with radius_km."]})
            return queryset
        latitude, longitude = parse_near(near)
        try:
            radius_km = float(radius) if radius is not None else 50.0
        except ValueError:
            radius_km = -1.0
        if not 0 < radius_km <= 5000:
            raise ValidationError({"radius_km": ["Give a radius in km, more than 0 and at most 5000."]})
        return selectors.use_cases_near(queryset, latitude=latitude, longitude=longitude, radius_km=radius_km)
