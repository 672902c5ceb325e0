from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple

from core.admin import BaseModelAdmin, refusal_text
from core.errors import DomainError

from . import checks, services
from .models import Service, Tag


class ServiceAdminForm(forms.ModelForm):
    dependencies = forms.ModelMultipleChoiceField(
        queryset=Service.objects.order_by("name"),
        required=False,
        widget=FilteredSelectMultiple("dependencies", is_stacked=False),
        help_text="Services this one needs. One that would close a cycle is refused.",
    )

    class Meta:
        model = Service
        fields = (
            "name",
            "display_name",
            "description",
            "build_type",
            "protocol",
            "priority",
            "location",
            "endpoint",
            "port",
            "service_version",
            "tags",
            "metadata",
            "config",
            "health_check_url",
            "required",
            "auto_start",
            "source_url",
            "registry_url",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["dependencies"].queryset = Service.objects.exclude(pk=self.instance.pk).order_by("name")
            self.initial["dependencies"] = list(self.instance.dependencies.filter(deleted_at__isnull=True))


@admin.register(Service)
class ServiceAdmin(BaseModelAdmin):
    form = ServiceAdminForm
    list_display = (
        "name",
        "display_name",
        "status",
        "build_type",
        "protocol",
        "priority",
        "required",
        "enabled",
        "health_score_display",
        "response_time_ms",
        "last_seen",
        "last_health_check",
    )
    list_filter = ("status", "build_type", "protocol", "priority", "required", "enabled", "tags")
    search_fields = ("name", "display_name", "description")
    ordering = ("name",)
    filter_horizontal = ("tags",)
    readonly_fields = (
        "status",
        "enabled",
        "last_health_check",
        "last_seen",
        "response_time_ms",
        "success_count",
        "failure_count",
        "consecutive_successes",
        "consecutive_failures",
    )
    actions = ("enable", "disable", "start_maintenance", "end_maintenance", "check_now")

    @admin.display(description="health score")
    def health_score_display(self, obj):
        score = obj.health_score
        return "—" if score is None else f"{score:.0%}"

    def write(self, request, form, change):
        fields = form.changes() if change else form.model_data()
        fields.pop("dependencies", None)  # a form field, not one of the service's own
        if "tags" in fields:
            fields["tags"] = [tag.name for tag in fields["tags"]]
        if change:
            service = services.service_update(service=self.current(form.instance), **fields)
        else:
            service = services.service_create(**fields)
        if not change or "dependencies" in form.changed_data:
            services.service_set_dependencies(service=service, depends_on=form.cleaned_data["dependencies"])
        return service

    def _each(self, request, queryset, change, done):
        count = 0
        for service in queryset.filter(deleted_at__isnull=True):
            try:
                change(service)
            except DomainError as exc:
                self.message_user(request, f"{service.name}: {refusal_text(exc)}", messages.ERROR)
                continue
            count += 1
        self.message_user(request, f"{count} service(s) {done}.", messages.SUCCESS)

    @admin.action(description="Enable selected services", permissions=["change"])
    def enable(self, request, queryset):
        self._each(request, queryset, lambda s: services.service_set_enabled(service=s, enabled=True), "enabled")

    @admin.action(description="Disable selected services", permissions=["change"])
    def disable(self, request, queryset):
        self._each(request, queryset, lambda s: services.service_set_enabled(service=s, enabled=False), "disabled")

    @admin.action(description="Put selected services in maintenance", permissions=["change"])
    def start_maintenance(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda s: services.service_set_maintenance(service=s, maintenance=True),
            "put in maintenance",
        )

    @admin.action(description="Take selected services out of maintenance", permissions=["change"])
    def end_maintenance(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda s: services.service_set_maintenance(service=s, maintenance=False),
            "taken out of maintenance",
        )

    @admin.action(description="Check selected services now", permissions=["change"])
    def check_now(self, request, queryset):
        targets = checks.checkable_services([s.name for s in queryset.filter(deleted_at__isnull=True)])
        if not targets:
            self.message_user(
                request, "None of the selected services has an http(s) health check URL.", messages.WARNING
            )
            return
        for outcome in checks.check_services(targets):
            level = messages.SUCCESS if outcome.probe.passing else messages.WARNING
            self.message_user(
                request, f"{outcome.service.name}: {outcome.probe.detail}, now {outcome.service.status}.", level
            )


@admin.register(Tag)
class TagAdmin(BaseModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
