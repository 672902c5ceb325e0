from rest_framework import serializers

AUDIT_FIELDS = ("id", "created_at", "updated_at", "created_by", "updated_by", "version")
SOFT_DELETE_FIELDS = ("deleted_at",)


class BaseModelSerializer(serializers.ModelSerializer):
    """Audit fields are read-only; ``version`` may be sent back on update so a stale
    copy is refused with 409 (the viewset checks it)."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
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
