import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import model_ngettext, quote
from django.core.exceptions import EmptyResultSet, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import cached_property
from simple_history.admin import SimpleHistoryAdmin

from . import runtime
from .errors import DomainError, Invalid
from .models import RuntimeSetting, SoftDeleteModel, StaleVersionError
from .services import model_create, model_update, object_delete, object_restore

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


def refusal_text(exc: DomainError) -> str:
    """A service's refusal as one line, for admin messages (actions, deletes, restores)."""
    if isinstance(exc, Invalid) and exc.fields:
        return " ".join(
            message if name == "non_field_errors" else f"{name}: {message}"
            for name, messages_ in exc.fields.items()
            for message in messages_
        )
    return exc.message


def add_domain_error(form: forms.BaseForm, exc: DomainError) -> None:
    """Show a service's refusal on the form: field messages beside their fields, the rest on top."""
    if isinstance(exc, Invalid) and exc.fields:
        for name, field_messages in exc.fields.items():
            on_field = name in form.fields
            for message in field_messages:
                if on_field or name == "non_field_errors":
                    form.add_error(name if on_field else None, message)
                else:  # a rule about a field the form does not show
                    form.add_error(None, f"{name}: {message}")
    else:
        form.add_error(None, exc.message)


class ServiceWriteForm(forms.BaseForm):
    """Mixed into admin add/change forms: once the fields are valid, the row is written by the
    admin's ``write()`` (the app's service), and a refusal comes back as form errors, so the
    operator sees the same rules the API enforces and the page never answers 500."""

    _write = None  # set by BaseModelAdmin.get_form
    written = False

    def full_clean(self):
        super().full_clean()
        if not self.is_bound or self._errors or self._write is None:
            return
        try:
            with transaction.atomic():
                self.instance = self._write(self)
        except DomainError as exc:
            add_domain_error(self, exc)
        except ValidationError as exc:
            add_domain_error(self, Invalid.from_django(exc))
        else:
            self.written = True

    def changes(self) -> dict:
        """The model fields the operator changed, with their cleaned values."""
        return {name: self.cleaned_data[name] for name in self.changed_data if name in self._model_field_names()}

    def model_data(self) -> dict:
        """Every model field of the form, with its cleaned value (for a create)."""
        return {name: value for name, value in self.cleaned_data.items() if name in self._model_field_names()}

    def _model_field_names(self) -> set[str]:
        return {field.name for field in self._meta.model._meta.get_fields()}


class EstimatedCountPaginator(Paginator):
    """Admin changelists over tables of millions of rows: PostgreSQL's planner estimate instead of
    a full ``COUNT(*)`` once the estimate says the result is large. Small results (a search, a
    narrow filter) are still counted exactly, so "3 loads" means 3."""

    exact_below = 10_000

    @cached_property
    def count(self):
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return super().count
        try:
            sql, params = queryset.order_by().query.sql_with_params()
        except EmptyResultSet:  # e.g. pk__in=[]: nothing to count
            return 0
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        return estimate if estimate >= self.exact_below else super().count


class LargeTableAdmin:
    """Mixed into the admin of a table that grows into the millions (loads, calls)."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False


class BaseModelAdmin(SimpleHistoryAdmin):
    """Admin for ``BaseModel`` subclasses: audit fields read-only, change history, optimistic
    locking on the change form, writes through the app's services, and for soft-deletable
    models a deleted-rows filter, soft delete (through ``core.services.object_delete``, so
    rows that others reference are marked, not refused) and a restore action.

    An admin whose model has services overrides ``write(request, form, change)`` and calls
    them with ``form.model_data()`` (add) or ``form.changes()`` (change). One whose model has none
    (tags, runtime settings) writes through the shared helper, as those services do."""

    def write(self, request, form: ServiceWriteForm, change: bool):
        """Write the validated form; return the saved row. Raise ``core.errors`` to refuse."""
        return self.write_model(form, change)

    def write_model(self, form: ServiceWriteForm, change: bool, **extra):
        """The default write: ``core.services.model_create`` / ``model_update`` with the form's
        fields (and ``extra`` ones it does not show), so the row is validated, stamped, versioned
        and recorded exactly as the apps' services write theirs; then the form's many-to-many sets."""
        data = form.changes() if change else form.model_data()
        many = {f.name for f in self.model._meta.many_to_many}
        data = {name: value for name, value in data.items() if name not in many} | extra
        if change:
            instance, _ = model_update(instance=self.current(form.instance), data=data)
        else:
            instance = model_create(model=self.model, data=data)
        form.instance = instance
        form._save_m2m()
        return instance

    def current(self, obj):
        """The row as stored now, locked until the write commits (the form has already copied
        the operator's edits onto ``obj``, so services get the stored row plus ``form.changes()``).
        A save made by someone else since the form was opened is refused."""
        stored = type(obj)._base_manager.select_for_update().get(pk=obj.pk)
        if stored.version != obj.version:
            raise StaleVersionError(stored, obj.version)
        return stored

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and "form" not in kwargs:
            kwargs["form"] = type(self.form.__name__, (VersionCheckForm, self.form), {})
        form = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self
        return type(
            form.__name__,
            (ServiceWriteForm, form),
            {"_write": staticmethod(lambda f: model_admin.write(request, f, obj is not None))},
        )

    def save_model(self, request, obj, form, change):
        if not getattr(form, "written", False):
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        if not getattr(form, "written", False):
            return super().save_related(request, form, formsets, change)
        # write() saved the form's many-to-many fields through the service already.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def render_change_form(self, request, context, *args, **kwargs):
        # The form was written but an inline was invalid: the page is shown again, so undo the write.
        form = context.get("adminform").form if context.get("adminform") else None
        if getattr(form, "written", False) and request.method == "POST":
            transaction.set_rollback(True)
        return super().render_change_form(request, context, *args, **kwargs)

    def get_deleted_objects(self, objs, request):
        if not self._soft_deletable:
            return super().get_deleted_objects(objs, request)
        # A soft delete only marks these rows; nothing that references them is touched or blocks it.
        to_delete = [str(obj) for obj in objs]
        return to_delete, {self.model._meta.verbose_name_plural: len(to_delete)}, set(), []

    def _soft_delete(self, request, obj) -> bool:
        """Soft-delete through the app's rules; a refusal becomes an error message."""
        try:
            object_delete(instance=obj)
        except DomainError as exc:
            self.message_user(request, f"{obj}: {refusal_text(exc)}", messages.ERROR)
            request.soft_delete_refused = True
            return False
        super().log_deletions(request, [obj])
        return True

    def log_deletions(self, request, queryset):
        if not self._soft_deletable:
            return super().log_deletions(request, queryset)
        # Logged by _soft_delete once a row is marked, so a refused delete leaves no entry.

    def delete_model(self, request, obj):
        if not self._soft_deletable:
            return super().delete_model(request, obj)
        self._soft_delete(request, obj)

    def delete_queryset(self, request, queryset):
        if not self._soft_deletable:
            return super().delete_queryset(request, queryset)
        for obj in queryset.filter(deleted_at__isnull=True):
            self._soft_delete(request, obj)

    def response_delete(self, request, obj_display, obj_id):
        if getattr(request, "soft_delete_refused", False):  # back to the row, with the reason shown
            opts = self.opts
            return HttpResponseRedirect(
                reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_change",
                    args=(quote(obj_id),),
                    current_app=self.admin_site.name,
                )
            )
        return super().response_delete(request, obj_display, obj_id)

    def soft_delete_selected(self, request, queryset):
        """Django's "delete selected", counting only the rows actually deleted (an app's rule
        may refuse some, each with its reason)."""
        if not request.POST.get("post"):
            return delete_selected(self, request, queryset)  # the confirmation page
        if not self.has_delete_permission(request):
            raise PermissionDenied
        deleted = sum(self._soft_delete(request, obj) for obj in queryset.filter(deleted_at__isnull=True))
        if deleted:
            self.message_user(request, f"Deleted {deleted} {model_ngettext(self.opts, deleted)}.", messages.SUCCESS)
        return None

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
        if self._soft_deletable and "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (BaseModelAdmin.soft_delete_selected, name, description)
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
                object_restore(instance=obj)
                restored += 1
            except DomainError as exc:
                refused.append(f"{obj}: {refusal_text(exc)}")
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

    def write(self, request, form, change):
        spec = runtime.specs().get(form.instance.key)
        if spec is not None and not form.instance.description:
            return self.write_model(form, change, description=spec.description)
        return self.write_model(form, change)


class RecordAdmin(BaseModelAdmin):
    """Records of what happened (calls, negotiations, plans, outcomes): readable in the admin, never
    added, edited or deleted here; only the services that write them do."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
