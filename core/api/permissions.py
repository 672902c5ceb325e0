from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Django model permissions for every method, reads included, so the admin and the
    API share one permission system.

    A view may name the permissions an extra action needs with
    ``action_permissions = {"restore": ["{app_label}.delete_{model_name}"], ...}``;
    ``{app_label}`` and ``{model_name}`` are filled from the view's model.
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def _queryset(self, view):
        # Only the model is read from it: the view's per-request queryset (joins, columns,
        # filters) would otherwise be built twice per request.
        queryset = getattr(view, "queryset", None)
        return queryset if queryset is not None else super()._queryset(view)

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        action_perms = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if action_perms is not None:
            model = self._queryset(view).model
            names = {"app_label": model._meta.app_label, "model_name": model._meta.model_name}
            return request.user.has_perms([perm.format(**names) for perm in action_perms])
        return super().has_permission(request, view)


class HasPerms:
    """Permission class for views without a model: ``HasPerms.of("carriers.verify_carrier")``."""

    @staticmethod
    def of(*perms):
        from rest_framework.permissions import BasePermission

        class _HasPerms(BasePermission):
            required = perms

            def has_permission(self, request, view):
                user = request.user
                return bool(user and user.is_authenticated and user.has_perms(perms))

        _HasPerms.__name__ = "HasPerms(" + ", ".join(perms) + ")"
        return _HasPerms
