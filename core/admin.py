from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from simple_history.admin import SimpleHistoryAdmin

from . import runtime
from .models import RuntimeSetting, SoftDeleteModel

AUDIT_READONLY = ("id", "created_at", "created_by", "updated_at", "updated_by", "version")


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return (("no", "Live rows"), ("yes", "Deleted rows"), ("all", "All rows"))

    def choices(self, changelist):
        # "Live rows" is the default, so the unfiltered choice is not offered separately.
        value = self.value() or "no"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "no"
        if value == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if value == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)


class VersionCheckForm(forms.Form):
    """Mixed into change forms: the version the form was opened at travels with it, and a
    save is refused when the row has changed since (someone else saved in between)."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expected_version"].initial = self.instance.version

    def clean(self):
        cleaned = super().clean()
        expected = cleaned.get("expected_version")
        if expected is not None and expected != self.instance.version:
            raise ValidationError(
                f"Someone else saved this record while you were editing it (it is now at version "
                f"{self.instance.version}, you opened version {expected}). Reload the page, then make "
                "your change again.",
                code="stale_version",
            )
        return cleaned


class BaseModelAdmin(SimpleHistoryAdmin):
    """Admin for ``BaseModel`` subclasses: audit fields read-only, change history, optimistic
    locking on the change form, and for soft-deletable models a deleted-rows filter, soft
    delete and a restore action."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and "form" not in kwargs:
            kwargs["form"] = type(self.form.__name__, (VersionCheckForm, self.form), {})
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        extra = AUDIT_READONLY
        if self._soft_deletable:
            extra += ("deleted_at", "deleted_by")
        return fields + tuple(f for f in extra if f not in fields)

    @property
    def _soft_deletable(self):
        return issubclass(self.model, SoftDeleteModel)

    def get_queryset(self, request):
        if self._soft_deletable:
            queryset = self.model.all_objects.get_queryset()
            ordering = self.get_ordering(request)
            return queryset.order_by(*ordering) if ordering else queryset
        return super().get_queryset(request)

    def get_list_filter(self, request):
        filters = tuple(super().get_list_filter(request))
        return (DeletedFilter, *filters) if self._soft_deletable else filters

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self._soft_deletable and self.has_delete_permission(request):
            actions["restore_selected"] = (
                BaseModelAdmin.restore_selected,
                "restore_selected",
                "Restore selected deleted rows",
            )
        return actions

    def restore_selected(self, request, queryset):
        restored, refused = 0, []
        for obj in queryset.filter(deleted_at__isnull=False):
            try:
                obj.restore()
                restored += 1
            except ValidationError as exc:
                refused.append(f"{obj}: {' '.join(exc.messages)}")
        if restored:
            self.message_user(request, f"Restored {restored} row(s).", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.ERROR)


class RuntimeSettingForm(forms.ModelForm):
    key = forms.ChoiceField()

    class Meta:
        model = RuntimeSetting
        fields = ("key", "value")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [
            (key, f"{key}: {spec.description} (default {spec.default!r})")
            for key, spec in sorted(runtime.specs().items())
        ]


@admin.register(RuntimeSetting)
class RuntimeSettingAdmin(BaseModelAdmin):
    form = RuntimeSettingForm
    list_display = ("key", "value", "default", "updated_at", "updated_by")
    search_fields = ("key",)

    @admin.display(description="default (environment)")
    def default(self, obj):
        spec = runtime.specs().get(obj.key)
        return spec.default if spec else "—"

    def save_model(self, request, obj, form, change):
        spec = runtime.specs().get(obj.key)
        if spec is not None and not obj.description:
            obj.description = spec.description
        super().save_model(request, obj, form, change)
