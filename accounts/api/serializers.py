from datetime import datetime

from django.contrib.auth import get_user_model
from rest_framework import serializers


class UserSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = (
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "company",
            "industry",
            "location",
            "expertise",
            "roles",
            "is_staff",
        )
        read_only_fields = fields

    def get_roles(self, user) -> list[str]:
        return user.role_names


class TokenSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True, help_text="Use it to revoke the token.")
    client_name = serializers.CharField(read_only=True)
    created = serializers.DateTimeField(source="token.created", read_only=True)
    expiry = serializers.DateTimeField(
        source="token.expiry", read_only=True, allow_null=True, help_text="null: never expires."
    )
    last_used = serializers.SerializerMethodField(help_text="To the minute; null if not used since sign-in.")
    current = serializers.SerializerMethodField(help_text="The token this request was made with.")

    def get_last_used(self, info) -> datetime | None:
        value = self.context.get("last_used", {}).get(info.token_id)
        return serializers.DateTimeField().to_representation(value) if value else None

    def get_current(self, info) -> bool:
        return info.token_id == self.context.get("current_digest")
