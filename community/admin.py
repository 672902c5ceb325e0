"""Moderation from the admin: every change and action goes through ``community.services``."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Count, Q

from core.admin import BaseModelAdmin
from core.errors import DomainError

from . import services
from .choices import PostStatus, ReportResolution, ReportStatus
from .models import Post, Reply, Report, Tag, UseCase, UseCaseDetail
from .schemas import DETAIL_SCHEMAS


class ReasonActionForm(ActionForm):
    reason = forms.CharField(required=False, max_length=400, help_text="Why (needed to hide or to resolve).")


def _each(model_admin, request, queryset, change, done):
    count = 0
    for obj in queryset:
        try:
            change(obj)
            count += 1
        except DomainError as exc:
            model_admin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
    if count:
        model_admin.message_user(request, f"{count} {done}.", messages.SUCCESS)


def _tag_names(tags) -> list[str]:
    return [tag.name for tag in tags] if tags is not None else []


class ReportedFilter(admin.SimpleListFilter):
    title = "reported"
    parameter_name = "reported"

    def lookups(self, request, model_admin):
        return (("yes", "With open reports"), ("no", "Without open reports"))

    def queryset(self, request, queryset):
        open_reports = Report.objects.filter(status=ReportStatus.OPEN)
        field = "post_id" if queryset.model is Post else "reply_id"
        ids = open_reports.values(field)
        if self.value() == "yes":
            return queryset.filter(pk__in=ids)
        if self.value() == "no":
            return queryset.exclude(pk__in=ids)
        return queryset


class HideActionsMixin:
    action_form = ReasonActionForm

    @admin.action(description="Hide selected (give the reason above)", permissions=["change"])
    def hide(self, request, queryset):
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Give a reason to hide content.", messages.ERROR)
            return
        _each(
            self,
            request,
            queryset.filter(deleted_at__isnull=True),
            lambda obj: services.content_hide(instance=obj, reason=reason),
            "hidden",
        )


class ReplyInline(admin.TabularInline):
    model = Reply
    fk_name = "post"
    fields = ("author", "parent", "body", "score", "is_best_answer", "deleted_at", "deleted_reason")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return Reply.all_objects.select_related("author", "parent")

    def has_add_permission(self, request, obj=None):
        return False


class PostAdminForm(forms.ModelForm):
    class Meta:
        model = Post
        fields = ("author", "title", "body", "category", "tags", "status", "pinned")


@admin.register(Post)
class PostAdmin(HideActionsMixin, BaseModelAdmin):
    form = PostAdminForm
    inlines = [ReplyInline]
    list_display = (
        "title",
        "author",
        "category",
        "status",
        "pinned",
        "score",
        "reply_count",
        "view_count",
        "open_reports",
        "has_best_answer",
        "last_activity_at",
    )
    list_filter = ("category", "status", "pinned", ReportedFilter, "has_best_answer")
    search_fields = ("title", "body", "author__username")
    list_select_related = ("author",)
    readonly_fields = (
        "body_html",
        "score",
        "reply_count",
        "view_count",
        "has_best_answer",
        "last_activity_at",
        "deleted_reason",
    )
    filter_horizontal = ("tags",)
    actions = ("pin", "unpin", "close", "reopen", "hide")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_open_reports=Count("reports", filter=Q(reports__status=ReportStatus.OPEN)))
        )

    @admin.display(description="open reports", ordering="n_open_reports")
    def open_reports(self, obj):
        return obj.n_open_reports

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "author") if obj is not None else fields

    def write(self, request, form, change):
        if not change:
            data = form.model_data()
            data["tags"] = _tag_names(data.get("tags"))
            return services.post_create(**data)
        changes = form.changes()
        if "tags" in changes:
            changes["tags"] = _tag_names(changes["tags"])
        return services.post_update(post=self.current(form.instance), **changes)

    def _set_status(self, request, queryset, status, done):
        _each(
            self,
            request,
            queryset.filter(deleted_at__isnull=True),
            lambda post: services.post_set_status(post=post, status=status),
            done,
        )

    @admin.action(description="Pin selected posts", permissions=["change"])
    def pin(self, request, queryset):
        _each(self, request, queryset, lambda p: services.post_set_pinned(post=p, pinned=True), "post(s) pinned")

    @admin.action(description="Unpin selected posts", permissions=["change"])
    def unpin(self, request, queryset):
        _each(self, request, queryset, lambda p: services.post_set_pinned(post=p, pinned=False), "post(s) unpinned")

    @admin.action(description="Close selected posts to new replies", permissions=["change"])
    def close(self, request, queryset):
        self._set_status(request, queryset, PostStatus.CLOSED, "post(s) closed")

    @admin.action(description="Reopen selected posts", permissions=["change"])
    def reopen(self, request, queryset):
        self._set_status(request, queryset, PostStatus.PUBLISHED, "post(s) reopened")


class ReplyAdminForm(forms.ModelForm):
    class Meta:
        model = Reply
        fields = ("post", "parent", "author", "body")


@admin.register(Reply)
class ReplyAdmin(HideActionsMixin, BaseModelAdmin):
    form = ReplyAdminForm
    list_display = ("__str__", "post", "author", "score", "is_best_answer", "created_at")
    list_filter = ("is_best_answer", ReportedFilter)
    search_fields = ("body", "author__username", "post__title")
    list_select_related = ("post", "author")
    raw_id_fields = ("post", "parent", "author")
    readonly_fields = ("body_html", "score", "is_best_answer", "deleted_reason")
    actions = ("hide",)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "post", "parent", "author") if obj is not None else fields

    def write(self, request, form, change):
        if not change:
            data = form.model_data()
            return services.reply_create(
                post=data["post"], author=data["author"], body=data["body"], parent=data.get("parent")
            )
        changes = form.changes()
        reply = self.current(form.instance)
        if "body" in changes:
            reply = services.reply_update(reply=reply, body=changes["body"])
        return reply


@admin.register(Report)
class ReportAdmin(BaseModelAdmin):
    """The report queue: open reports first; hide the content or dismiss the report."""

    action_form = ReasonActionForm
    list_display = ("__str__", "reporter", "target_link", "reason", "status", "created_at", "resolved_by")
    list_filter = ("status", "reason")
    list_select_related = ("reporter", "resolved_by", "post", "reply")
    search_fields = ("text", "reporter__username")
    readonly_fields = ("reporter", "post", "reply", "reason", "text", "status", "resolved_by", "resolved_at")
    fields = (*readonly_fields, "resolution_note")
    actions = ("hide_content", "dismiss")

    def has_add_permission(self, request):
        return False

    @admin.display(description="reported item")
    def target_link(self, obj):
        return str(obj.reply or obj.post)

    def _resolve(self, request, queryset, resolution, done):
        note = request.POST.get("reason", "").strip()
        _each(
            self,
            request,
            queryset.filter(status=ReportStatus.OPEN),
            lambda report: services.report_resolve(report=report, resolution=resolution, note=note),
            done,
        )

    @admin.action(description="Hide the reported content", permissions=["change"])
    def hide_content(self, request, queryset):
        self._resolve(request, queryset, ReportResolution.HIDE, "report(s) resolved, content hidden")

    @admin.action(description="Dismiss selected reports", permissions=["change"])
    def dismiss(self, request, queryset):
        self._resolve(request, queryset, ReportResolution.DISMISS, "report(s) dismissed")


class UseCaseAdminForm(forms.ModelForm):
    """The use case with its detailed version edited alongside (all four parts, or none)."""

    challenge = forms.JSONField(required=False, help_text='{"summary": "...", "pain_points": ["..."]}')
    solution = forms.JSONField(required=False, help_text='{"summary": "...", "components": ["..."]}')
    implementation_phases = forms.JSONField(
        required=False, help_text='[{"name": "Pilot", "duration_weeks": 6, "description": "..."}]'
    )
    results = forms.JSONField(
        required=False, help_text='{"roi_percent": 140, "metrics": [{"name": "...", "before": 1, "after": 2}]}'
    )

    class Meta:
        model = UseCase
        fields = (
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
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        detail = UseCaseDetail.objects.filter(use_case=self.instance).first() if self.instance.pk else None
        if detail is not None:
            for name in DETAIL_SCHEMAS:
                self.initial[name] = getattr(detail, name)

    def detail(self):
        parts = {name: self.cleaned_data.get(name) for name in DETAIL_SCHEMAS}
        if all(value in (None, "", [], {}) for value in parts.values()):
            return None
        return parts


@admin.register(UseCase)
class UseCaseAdmin(HideActionsMixin, BaseModelAdmin):
    form = UseCaseAdminForm
    list_display = ("title", "company", "industry", "city", "region", "status", "has_detail")
    list_filter = ("region", "status", "industry")
    search_fields = ("title", "company", "summary", "city")
    filter_horizontal = ("tags",)
    readonly_fields = ("deleted_reason",)
    actions = ("hide",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("detail")

    @admin.display(boolean=True, description="detailed")
    def has_detail(self, obj):
        return hasattr(obj, "detail")

    def write(self, request, form, change):
        detail = form.detail()
        detail_changed = any(name in form.changed_data for name in DETAIL_SCHEMAS)
        if not change:
            data = form.model_data()
            data["tags"] = _tag_names(data.get("tags"))
            return services.use_case_create(detail=detail, **data)
        changes = form.changes()
        if "tags" in changes:
            changes["tags"] = _tag_names(changes["tags"])
        if detail_changed:
            changes["detail"] = detail
        return services.use_case_update(use_case=self.current(form.instance), **changes)


@admin.register(Tag)
class TagAdmin(BaseModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
