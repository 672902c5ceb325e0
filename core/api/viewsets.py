from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils.cache import quote_etag
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.exceptions import PreconditionFailed
from core.errors import Conflict
from core.models import BaseModel, SoftDeleteModel
from core.services import object_delete, object_restore

INCLUDE_DELETED_PARAM = OpenApiParameter(
    "include_deleted",
    bool,
    description="Also list soft-deleted rows (needs the delete permission on the model).",
)


def _parse_version(raw, source):
    value = str(raw).strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    try:
        version = int(value)
    except ValueError:
        raise serializers.ValidationError({"version": [f"{source} must be a whole number."]}) from None
    if version < 1:
        raise serializers.ValidationError({"version": [f"{source} must be 1 or more."]})
    return version


class BaseModelViewSet(viewsets.ModelViewSet):
    """CRUD on a ``BaseModel`` with the platform's rules:

    * model permissions for every method (``core.api.permissions.ModelPermissions``);
    * PUT/PATCH carrying a stale ``version`` in the body get 409; PUT/PATCH/DELETE with a
      stale ``If-Match`` get 412 Precondition Failed with the current ``ETag`` (RFC 9110);
    * DELETE soft-deletes; ``POST <item>/restore/`` and ``?include_deleted=true`` are
      for users who hold the model's delete permission.

    Subclasses set ``queryset`` (with the ``select_related`` its serializer needs),
    ``serializer_class`` and usually ``filterset_class``. For soft-deletable models the
    queryset starts from ``Model.all_objects``: this class hides deleted rows itself.

    Writes go through the app's services, named declaratively::

        create_service = staticmethod(services.load_create)  # called with the validated data
        update_service = staticmethod(services.load_update)  # ... and the row as ``load=``
        update_instance_kwarg = "load"
        reread_after_write = True  # answer with the row read again through get_queryset()

    A view without them saves through the serializer (DRF's default).
    """

    action_permissions = {"restore": ["{app_label}.delete_{model_name}"]}
    create_service = None
    update_service = None
    update_instance_kwarg: str | None = None
    # The services' return value is answered as is, unless the serializer reads what only this
    # view's queryset adds (annotations such as the member's own vote, prefetches).
    reread_after_write = False

    @property
    def soft_deletable(self) -> bool:
        return issubclass(self.queryset.model, SoftDeleteModel)

    def can_see_deleted(self) -> bool:
        model = self.queryset.model
        return self.request.user.has_perm(f"{model._meta.app_label}.delete_{model._meta.model_name}")

    def include_deleted(self) -> bool:
        if not self.soft_deletable:
            return False
        if self.action == "restore":
            return True
        flag = self.request.query_params.get("include_deleted", "").lower() in ("1", "true", "yes")
        return flag and self.can_see_deleted()

    def get_queryset(self):
        queryset = super().get_queryset()
        if issubclass(queryset.model, BaseModel):
            # Every BaseModelSerializer shows who created and last changed a row.
            queryset = queryset.select_related("created_by", "updated_by")
        if self.soft_deletable and not self.include_deleted():
            queryset = queryset.filter(deleted_at__isnull=True)
        return queryset

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        response["ETag"] = quote_etag(str(response.data.get("version", "")))
        return response

    def expected_version(self, header_only=False):
        """``(version, source)`` the client based its change on, or ``(None, None)``."""
        if not header_only and isinstance(self.request.data, dict) and "version" in self.request.data:
            return _parse_version(self.request.data["version"], "version"), "body"
        header = self.request.headers.get("If-Match")
        if header and header.strip() != "*":
            return _parse_version(header, "If-Match"), "header"
        return None, None

    def update(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        with transaction.atomic():
            return super().destroy(request, *args, **kwargs)

    def get_object(self):
        obj = self._lookup_object()
        if self.action in ("update", "partial_update", "destroy"):
            # Lock the row so the version comparison and the write are one step.
            obj = type(obj)._base_manager.select_for_update().get(pk=obj.pk)
            # DELETE has no body contract: only If-Match counts there.
            expected, source = self.expected_version(header_only=self.action == "destroy")
            if expected is not None and expected != getattr(obj, "version", expected):
                message = f"This record is at version {obj.version}, not {expected}; reload it and try again."
                if source == "header":
                    raise PreconditionFailed(message, etag=quote_etag(str(obj.version)))
                raise Conflict(message, code="stale_version")
        return obj

    def _lookup_object(self):
        if not self.include_deleted():
            return super().get_object()
        # A natural key (name, load_id) may belong to one live row and several deleted ones:
        # restore takes the most recently deleted, every other action the live row first.
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        candidates = self.filter_queryset(self.get_queryset()).filter(
            **{self.lookup_field: self.kwargs[lookup_url_kwarg]}
        )
        nulls = {"nulls_last": True} if self.action == "restore" else {"nulls_first": True}
        obj = candidates.order_by(F("deleted_at").desc(**nulls)).first()
        if obj is None:
            raise Http404
        self.check_object_permissions(self.request, obj)
        return obj

    def fresh(self, instance):
        """The row again through this view's queryset (annotations, prefetches)."""
        return self.get_queryset().get(pk=instance.pk)

    def _written(self, instance):
        return self.fresh(instance) if self.reread_after_write else instance

    def perform_create(self, serializer):
        if self.create_service is None:
            return super().perform_create(serializer)
        serializer.instance = self._written(self.create_service(**serializer.validated_data))

    def perform_update(self, serializer):
        if self.update_service is None:
            return super().perform_update(serializer)
        instance = self.update_service(**{self.update_instance_kwarg: serializer.instance}, **serializer.validated_data)
        serializer.instance = self._written(instance)

    def perform_destroy(self, instance):
        if self.soft_deletable:
            object_delete(instance=instance)  # the app's delete rules, then a soft delete
        else:
            instance.delete()

    @extend_schema(request=None, description="Bring back a soft-deleted row.")
    @action(detail=True, methods=["post"])
    def restore(self, request, *args, **kwargs):
        if not self.soft_deletable:
            raise Http404
        instance = object_restore(instance=self.get_object())
        return Response(self.get_serializer(instance).data)
