from collections.abc import Mapping

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.settings import api_settings

AUDIT_FIELDS = ("id", "created_at", "updated_at", "created_by", "updated_by", "version")
SOFT_DELETE_FIELDS = ("deleted_at",)


def unknown_fields_error(names) -> serializers.ValidationError:
    """The refusal of input names an endpoint does not know (``StrictInputMixin``'s rule)."""
    return serializers.ValidationError(
        {name: ["This field is not known to this endpoint."] for name in sorted(map(str, names))},
        code="unknown_field",
    )


class StrictInputMixin:
    """The API's contract for write bodies:

    * a field the endpoint does not know is a 400 naming it, so a misspelt optional field
      (``is_required`` for ``required``) is never silently ignored;
    * JSON ``null`` on an optional field that has no null value means "not given" (what
      voice platforms and many clients send for an empty slot).

    Read-only fields a client echoes back from a GET are accepted and ignored."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = [name for name in data if name not in self.fields]
            if unknown:
                raise unknown_fields_error(unknown)
            data = {
                name: value
                for name, value in data.items()
                if not (value is None and not self.fields[name].required and not self.fields[name].allow_null)
            }
        elif data is not None and not isinstance(data, Mapping):
            message = self.error_messages["invalid"].format(datatype=type(data).__name__)
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]}, code="invalid")
        return super().to_internal_value(data)


class InputSerializer(StrictInputMixin, serializers.Serializer):
    """Base for request bodies of actions that are not a model's fields."""


@extend_schema_field(
    {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$", "example": "06:30:00"}
)
class WallClockTimeField(serializers.TimeField):
    """A time of day without a zone (opening hours). Documented by its pattern: OpenAPI's
    ``format: time`` means RFC 3339's full-time, which requires a UTC offset."""


class BaseModelSerializer(StrictInputMixin, serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.TimeField: WallClockTimeField,
    }

    """Audit fields are read-only; ``version`` may be sent back on update so a stale
    copy is refused with 409 (the viewset checks it)."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The version this change was based on; a stale one is refused with 409.",
    )

    def validate(self, attrs):
        attrs.pop("version", None)  # checked by the view, never written by the client
        return super().validate(attrs)


def check_no_nul(value):
    """PostgreSQL rejects NUL characters in text and JSON; refuse them with a 400."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError("Null characters are not allowed.")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_no_nul(key)
            check_no_nul(item)
    elif isinstance(value, list):
        for item in value:
            check_no_nul(item)
    return value


class SafeJSONField(serializers.JSONField):
    default_error_messages = {"invalid": "Value must be valid JSON."}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(check_no_nul)
