import dataclasses
import json

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.db.models.constants import LOOKUP_SEP
from django.utils.html import format_html
from simple_history.template_utils import HistoricalRecordContextHelper

from core.admin import BaseModelAdmin, LargeTableAdmin, RecordAdmin, refusal_text
from core.errors import DomainError

from . import lanes, services
from .choices import LoadStatus
from .models import Call, Carrier, Load, Negotiation, Offer, VerificationLookup
from .normalize import InvalidMCNumber, normalize_mc_number


class CarrierAdminForm(forms.ModelForm):
    """Takes an MC number as callers say it ("MC-123456"), like the API."""

    mc_number = forms.CharField(label="MC number", max_length=20, help_text="123456, MC123456, MC-123456…")

    class Meta:
        model = Carrier
        fields = ("mc_number", "dot_number", "legal_name", "dba_name", "phone", "city", "state")

    def clean_mc_number(self):
        try:
            return normalize_mc_number(self.cleaned_data["mc_number"])
        except InvalidMCNumber as exc:
            raise forms.ValidationError(str(exc)) from None


CEILING_PERMISSION = "carriers.view_load_ceiling"
CEILING_FIELDS = ("max_rate", "suggested_ceiling")


class HistoryWithoutCeiling(HistoricalRecordContextHelper):
    """A load's change history as shown to someone who may not see the ceiling: its changes
    are left out of each entry's list of changes."""

    def context_for_delta_changes(self, delta):
        changes = [change for change in delta.changes if change.field not in CEILING_FIELDS]
        return super().context_for_delta_changes(dataclasses.replace(delta, changes=changes))


# Searches that match more rows than this are left to the database in one query.
SEARCH_MATCH_LIMIT = 5000


@admin.register(Carrier)
class CarrierAdmin(BaseModelAdmin):
    form = CarrierAdminForm
    list_display = (
        "mc_number",
        "legal_name",
        "dot_number",
        "eligible",
        "reasons",
        "verified_at",
        "verification_source",
    )
    list_filter = ("eligible", "verification_source", "status_code")
    search_fields = ("mc_number", "legal_name", "dba_name", "=dot_number")
    ordering = ("mc_number",)
    readonly_fields = (
        "eligible",
        "ineligibility_reasons",
        "allowed_to_operate",
        "status_code",
        "out_of_service_date",
        "safety_rating",
        "verified_at",
        "verification_source",
        "fmcsa_answer",
    )
    actions = ("verify_again_now",)

    def write(self, request, form, change):
        if change:
            return services.carrier_update(carrier=self.current(form.instance), **form.changes())
        return services.carrier_create(**form.model_data())

    @admin.display(description="reasons")
    def reasons(self, obj):
        return ", ".join(obj.ineligibility_reasons or []) or "—"

    @admin.display(description="FMCSA answer")
    def fmcsa_answer(self, obj):
        if not obj.fmcsa_data:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(obj.fmcsa_data, indent=2, sort_keys=True))

    @admin.action(description="Verify again now with FMCSA", permissions=["verify"])
    def verify_again_now(self, request, queryset):
        for carrier in queryset.filter(deleted_at__isnull=True):
            try:
                verification = services.carrier_verify(mc_number=carrier.mc_number, force=True)
            except DomainError as exc:
                self.message_user(request, f"MC{carrier.mc_number}: {refusal_text(exc)}", messages.ERROR)
                continue
            fresh = verification.carrier
            verdict = "eligible" if fresh.eligible else "not eligible (" + ", ".join(fresh.ineligibility_reasons) + ")"
            self.message_user(request, f"MC{fresh.mc_number}: {verdict}.", messages.SUCCESS)

    def has_verify_permission(self, request):
        return request.user.has_perm("carriers.verify_carrier")


class LoadAdminForm(forms.ModelForm):
    """Saved through ``carriers.services`` (see ``LoadAdmin.write``), so the status rules and
    what a status change does are the API's."""

    class Meta:
        model = Load
        fields = (
            "load_id",
            "origin_city",
            "origin_state",
            "destination_city",
            "destination_state",
            "pickup_datetime",
            "delivery_datetime",
            "equipment_type",
            "loadboard_rate",
            "max_rate",
            "status",
            "weight",
            "commodity_type",
            "num_of_pieces",
            "miles",
            "dimensions",
            "notes",
        )


@admin.register(Load)
class LoadAdmin(LargeTableAdmin, BaseModelAdmin):
    form = LoadAdminForm
    list_display = (
        "load_id",
        "origin",
        "destination",
        "pickup_datetime",
        "equipment_type",
        "loadboard_rate",
        "agreed_rate",
        "status",
        "booked_carrier",
    )
    list_filter = ("status", "equipment_type", "origin_state", ("pickup_datetime", admin.DateFieldListFilter))
    # Whole values, matched through indexes: a substring search would scan millions of loads.
    search_fields = ("load_id__exact", "origin_city__iexact", "destination_city__iexact")
    ordering = ("pickup_datetime", "load_id")
    list_select_related = ("booked_carrier",)
    readonly_fields = ("agreed_rate", "booked_carrier", "booked_at", "suggested_ceiling")
    actions = ("cancel_loads",)

    @admin.display(description="suggested ceiling")
    def suggested_ceiling(self, obj):
        if obj is None or obj._state.adding or obj.max_rate is not None:  # UUID keys are set before saving
            return "—"
        suggestion = lanes.suggest_ceiling(obj)
        return f"${suggestion.amount} — {suggestion.explanation}"

    def write(self, request, form, change):
        if change:
            return services.load_update(load=self.current(form.instance), **form.changes())
        return services.load_create(**form.model_data())

    @admin.display(description="origin", ordering="origin_state")
    def origin(self, obj):
        return f"{obj.origin_city}, {obj.origin_state}"

    @admin.display(description="destination", ordering="destination_state")
    def destination(self, obj):
        return f"{obj.destination_city}, {obj.destination_state}"

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if not request.user.has_perm(CEILING_PERMISSION):
            fields = [name for name in fields if name not in CEILING_FIELDS]
        return fields

    def lookup_allowed(self, lookup, value, request=None):
        # The change list filters on any column named in its URL (?max_rate__gte=2300): counting
        # the loads that match would find each load's ceiling.
        if lookup.split(LOOKUP_SEP)[0] in CEILING_FIELDS and not (
            request and request.user.has_perm(CEILING_PERMISSION)
        ):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_historical_record_context_helper(self, request, historical_record):
        if request.user.has_perm(CEILING_PERMISSION):
            return super().get_historical_record_context_helper(request, historical_record)
        return HistoryWithoutCeiling(self.model, historical_record)

    @admin.action(description="Cancel selected loads", permissions=["change"])
    def cancel_loads(self, request, queryset):
        cancelled = 0
        for load in queryset.filter(deleted_at__isnull=True).exclude(status=LoadStatus.CANCELLED):
            try:
                services.load_cancel(load=load)
                cancelled += 1
            except DomainError as exc:
                self.message_user(request, f"{load.load_id}: {refusal_text(exc)}", messages.ERROR)
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} load(s).", messages.SUCCESS)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OfferInline(ReadOnlyInline):
    model = Offer
    fields = ("round", "negotiation", "amount", "decision", "counter_amount", "agreed_amount", "created_at")
    readonly_fields = fields
    ordering = ("created_at", "round")


@admin.register(Call)
class CallAdmin(LargeTableAdmin, RecordAdmin):
    list_display = ("external_id", "started_at", "mc_number", "load", "outcome", "sentiment", "duration_seconds")
    list_filter = ("outcome", "sentiment", ("started_at", admin.DateFieldListFilter))
    # Whole values, matched through indexes: a substring search would scan millions of calls.
    search_fields = ("external_id", "mc_number", "load ID")
    search_help_text = "A call's external id, an MC number or a load ID (whole values)."

    def get_search_results(self, request, queryset, search_term):
        # Whole values, each found through its own index; the matching ids are collected first
        # so the planner never walks the whole started_at index looking for a rare match.
        term = search_term.strip()
        if not term:
            return queryset, False
        calls = Call.objects.order_by()
        matches = (
            calls.filter(external_id=term)
            .values_list("pk", flat=True)
            .union(
                calls.filter(mc_number=term).values_list("pk", flat=True),
                calls.filter(load__in=Load.all_objects.filter(load_id=term).values("pk")).values_list("pk", flat=True),
            )
        )
        ids = list(matches[: SEARCH_MATCH_LIMIT + 1])
        if len(ids) > SEARCH_MATCH_LIMIT:  # a very busy carrier: let the database do it in one go
            return queryset.filter(Q(external_id=term) | Q(mc_number=term) | Q(load__load_id=term)), False
        return queryset.filter(pk__in=ids), False


@admin.register(Negotiation)
class NegotiationAdmin(LargeTableAdmin, RecordAdmin):
    list_display = ("load", "carrier", "status", "rounds_used", "last_counter", "agreed_rate", "updated_at")
    list_filter = ("status",)
    search_fields = ("load ID", "MC number")
    search_help_text = "A load ID or an MC number (whole values)."

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        loads = Load.all_objects.filter(load_id=term).values("pk")
        carriers = Carrier.all_objects.filter(mc_number=term).values("pk")
        return queryset.filter(Q(load__in=loads) | Q(carrier__in=carriers)), False

    ordering = ("-created_at",)
    list_select_related = ("load", "carrier")
    inlines = (OfferInline,)


@admin.register(VerificationLookup)
class VerificationLookupAdmin(LargeTableAdmin, admin.ModelAdmin):
    """The FMCSA lookup log: read-only; old rows go with ``manage.py prune_verification_log``."""

    list_display = ("looked_up_at", "mc_number", "outcome", "reasons", "error", "latency_ms")
    list_filter = ("outcome", "error", ("looked_up_at", admin.DateFieldListFilter))
    search_fields = ("=mc_number",)
    ordering = ("-looked_up_at",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
