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
