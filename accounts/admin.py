from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from knox.models import AuthToken
from simple_history.admin import SimpleHistoryAdmin

from .auth import last_used
from .models import User
from .services import tokens_revoke


class TokenInline(admin.TabularInline):
    """A user's API tokens: what they are and when they were used; tick "Delete" to revoke.
    The raw token is never shown (only its hash is stored)."""

    model = AuthToken
    verbose_name = "API token"
    verbose_name_plural = "API tokens (tick Delete and save to revoke)"
    extra = 0
    fields = ("client_name", "created", "expiry", "last_used")
    readonly_fields = fields
    can_delete = True
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("info").order_by("-created")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("knox.delete_authtoken")

    @admin.display(description="Client")
    def client_name(self, token):
        info = getattr(token, "info", None)
        return info.client_name if info else ""

    @admin.display(description="Last used")
    def last_used(self, token):
        return last_used([token.digest]).get(token.digest)


@admin.register(User)
class UserAdmin(SimpleHistoryAdmin, DjangoUserAdmin):
    fieldsets = DjangoUserAdmin.fieldsets + (("Profile", {"fields": ("company", "industry", "location", "expertise")}),)
    list_display = ("username", "email", "company", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
    search_fields = ("username", "email", "first_name", "last_name", "company")
    inlines = (TokenInline,)

    def save_formset(self, request, form, formset, change):
        if formset.model is AuthToken:
            revoked = [f.instance for f in formset.deleted_forms if f.instance.pk]
            tokens_revoke(tokens=revoked)
            # What the admin's change message reads (formset.save() would have set these).
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], revoked
            return
        super().save_formset(request, form, formset, change)
