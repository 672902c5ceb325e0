"""The OpenAPI schema documents every error an operation can answer, in one place.

Each operation gets the 4xx (and 503) responses it can return, all with the one error body
of ``core.api.exceptions``; a view documents only its successful responses (and may give
an error status its own description with ``OpenApiResponse(description=...)``).
"""

from drf_spectacular import openapi
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    """The body of every error the API returns."""

    status = serializers.IntegerField(help_text="The HTTP status, repeated for clients that lose it.")
    code = serializers.CharField(help_text="A stable slug for programs, e.g. invalid, not_found, stale_version.")
    detail = serializers.CharField(help_text="What went wrong, for people.")
    fields = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Validation errors only: field name → list of messages (nested for nested fields).",
    )

    class Meta:
        ref_name = "Error"


DESCRIPTIONS = {
    "400": "The request is not valid: field messages in `fields`, or a malformed body or URL.",
    "401": "No valid credentials (missing, wrong or expired token).",
    "403": "The signed-in user lacks the permission this operation needs.",
    "404": "No such object (or page), or it is not visible to this user.",
    "409": "Valid, but the current state does not allow it (a stale `version`, a duplicate, a rule).",
    "412": "`If-Match` names a version the object is no longer at; the current `ETag` is in the response.",
    "413": "The request body is larger than the server accepts.",
    "415": "The body is not `application/json`.",
    "429": "Too many requests; retry after the `Retry-After` seconds.",
    "503": "Something this request depends on (the database, an outside service) is unavailable; retry later.",
}

BODY_METHODS = ("POST", "PUT", "PATCH")


class AutoSchema(openapi.AutoSchema):
    def error_statuses(self) -> list[str]:
        method = self.method.upper()
        view = self.view
        codes = ["400"]
        public = any(isinstance(permission, AllowAny) for permission in view.get_permissions())
        if not public:
            codes += ["401", "403"]
        has_path_params = "{" in self.path
        paginated = self._is_list_view() and self._get_paginator() is not None
        if has_path_params or paginated:
            codes.append("404")
        if method in BODY_METHODS or method == "DELETE":
            codes.append("409")
        from core.api.viewsets import BaseModelViewSet  # imported late: DRF's views import this module

        if isinstance(view, BaseModelViewSet) and method in ("PUT", "PATCH", "DELETE") and has_path_params:
            codes.append("412")
        if method in BODY_METHODS:
            codes += ["413", "415"]
        codes += ["429", "503"]
        return codes

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # Strict write bodies take JSON null on an optional field as "not given"
        # (core.api.serializers.StrictInputMixin): say so in the request schema.
        from core.api.serializers import StrictInputMixin

        parent = getattr(field, "parent", None)
        if (
            direction == "request"
            and isinstance(parent, StrictInputMixin)
            and not field.required
            and not field.read_only
            and "$ref" not in schema
        ):
            schema["nullable"] = True
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self.error_statuses():
            existing = responses.get(code) or {}
            if existing.get("content"):
                continue  # the view documents this status with a body of its own
            error = self._get_response_for_code(ErrorSerializer, code, direction=direction)
            error["description"] = existing.get("description") or DESCRIPTIONS[code]
            responses[code] = error
        return dict(sorted(responses.items()))
