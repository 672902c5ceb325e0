"""Webhook endpoints and their deliveries in the admin. Every write calls the same services as the API
(``events.endpoint_services``); a refusal comes back as form errors or a message. A new secret (create, rotate) is
shown once, in a message to the operator who made it, and never logged."""

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from core.admin import ServiceWriteForm, refusal_text
from core.errors import DomainError

from . import endpoint_services, webhooks
from .models import Delivery, DeliveryAttempt, WebhookEndpoint
from .types import TYPES


def _show_secret(model_admin, request, endpoint, what: str) -> None:
    model_admin.message_user(
        request,
        f"{what} for {endpoint.url}: {endpoint.secret} — copy it now; it is not shown again.",
        messages.WARNING,
    )


class EndpointAdminForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https", help_text="Where events are POSTed (http or https).")
    event_types = forms.MultipleChoiceField(
        choices=[(name, f"{name}: {kind.description}") for name, kind in TYPES.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every type the owner may read. Only types the owner may read are accepted.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("owner", "url", "event_types", "description", "is_active")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointAdminForm
    list_display = ("url", "owner", "is_active", "consecutive_failures", "disabled_reason", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("url", "description", "owner__username")
    list_select_related = ("owner",)
    ordering = ("-created_at", "-id")
    raw_id_fields = ("owner",)
    readonly_fields = (
        "disabled_reason",
        "consecutive_failures",
        "previous_secret_expires_at",
        "created_at",
        "updated_at",
    )
    actions = ("disable_selected", "enable_selected", "rotate_secret")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self
        return type(
            form.__name__,
            (ServiceWriteForm, form),
            {"_write": staticmethod(lambda f: model_admin.write(request, f, obj is not None))},
        )

    def get_readonly_fields(self, request, obj=None):
        # The owner is chosen once; moving an endpoint to someone else would hand them its secret.
        return (*self.readonly_fields, "owner") if obj is not None else self.readonly_fields

    def write(self, request, form, change: bool):
        if change:
            changes = form.changes()
            return endpoint_services.endpoint_update(endpoint=form.instance, **changes)
        data = form.model_data()
        endpoint = endpoint_services.endpoint_create(
            owner=data["owner"],
            url=data["url"],
            event_types=data.get("event_types") or [],
            description=data.get("description", ""),
            is_active=data.get("is_active", True),
        )
        _show_secret(self, request, endpoint, "The signing secret")
        return endpoint

    def save_model(self, request, obj, form, change):
        if not getattr(form, "written", False):  # pragma: no cover (the form writes, or shows its errors)
            raise RuntimeError("The endpoint is written by its form's service call.")

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj):
        endpoint_services.endpoint_delete(endpoint=obj)

    def delete_queryset(self, request, queryset):
        for endpoint in queryset:
            endpoint_services.endpoint_delete(endpoint=endpoint)

    def _each(self, request, queryset, service, done: str) -> list[WebhookEndpoint]:
        """``service(endpoint=…)`` for each selected endpoint; refusals become messages, one each."""
        written = []
        for endpoint in queryset:
            try:
                written.append(service(endpoint=endpoint))
            except DomainError as exc:
                self.message_user(request, f"{endpoint}: {refusal_text(exc)}", messages.ERROR)
        if written:
            self.message_user(request, f"{done} {len(written)} endpoint(s).", messages.SUCCESS)
        return written

    @admin.action(description="Disable selected endpoints", permissions=["change"])
    def disable_selected(self, request, queryset):
        self._each(request, queryset, endpoint_services.endpoint_disable, "Disabled")

    @admin.action(
        description="Enable selected endpoints (failure count reset, pending deliveries sent)", permissions=["change"]
    )
    def enable_selected(self, request, queryset):
        self._each(request, queryset, endpoint_services.endpoint_enable, "Enabled")

    @admin.action(description="Rotate the signing secret (the new one is shown once)", permissions=["change"])
    def rotate_secret(self, request, queryset):
        for endpoint in self._each(
            request, queryset, endpoint_services.endpoint_rotate_secret, "Rotated the secret of"
        ):
            _show_secret(self, request, endpoint, "The new signing secret (the old one also signs for 24 hours)")


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ("number", "attempted_at", "status_code", "latency_ms", "error", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("number",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Deliveries are written by the workers only; an operator reads them and may replay one."""

    list_display = (
        "id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("endpoint__url", "event__type")
    list_select_related = ("event", "endpoint")
    ordering = ("-created_at", "-id")
    fields = (
        "event",
        "endpoint",
        "webhook_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "created_at",
        "delivered_at",
    )
    readonly_fields = fields
    inlines = (DeliveryAttemptInline,)
    actions = ("replay",)

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, obj):
        return obj.event.type

    @admin.display(description="webhook-id")
    def webhook_id(self, obj):
        return format_html("<code>{}</code>", webhooks.message_id(obj.event))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_replay_permission(self, request):
        return request.user.has_perm("events.change_webhookendpoint")

    @admin.action(description="Replay: deliver the event again (same webhook-id)", permissions=["replay"])
    def replay(self, request, queryset):
        replayed = 0
        for delivery in queryset.select_related("event", "endpoint"):
            try:
                endpoint_services.delivery_replay(delivery=delivery)
                replayed += 1
            except DomainError as exc:
                self.message_user(request, f"Delivery {delivery.pk}: {refusal_text(exc)}", messages.ERROR)
        if replayed:
            self.message_user(request, f"Queued {replayed} deliveries again.", messages.SUCCESS)
