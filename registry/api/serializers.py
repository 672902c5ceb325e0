from rest_framework import serializers

from core import runtime
from core.api.serializers import AUDIT_FIELDS, SOFT_DELETE_FIELDS, BaseModelSerializer, InputSerializer, SafeJSONField
from core.tags import normalise_tag_name, validate_tag_name
from registry.choices import CheckResult, ServiceStatus
from registry.models import Service, validate_semver, validate_service_name

MAX_HEARTBEAT_NAMES = 10_000


class TagNameField(serializers.CharField):
    """A tag name, in the form it is stored (``core.tags``)."""

    def to_internal_value(self, data):
        return normalise_tag_name(super().to_internal_value(data))


class TagListField(serializers.ListField):
    """Written as a list of names; read from the service's (prefetched) tags."""

    def to_representation(self, data):
        return sorted(tag.name for tag in data.all())


class ServiceSerializer(BaseModelSerializer):
    name = serializers.CharField(max_length=100, validators=[validate_service_name])
    service_version = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        validators=[validate_semver],
        help_text="Semantic version of the service build, e.g. 1.4.2.",
    )
    tags = TagListField(
        child=TagNameField(max_length=50, validators=[validate_tag_name]),
        required=False,
        max_length=50,
        help_text="Tag names; the list replaces the service's tags.",
    )
    metadata = SafeJSONField(required=False)
    config = SafeJSONField(required=False)
    status = serializers.ChoiceField(
        choices=ServiceStatus.choices,
        required=False,
        help_text="Operators may set unknown, maintenance or disabled; health checks set healthy/unhealthy.",
    )
    dependencies = serializers.SerializerMethodField(help_text="Names of the services this one needs directly.")
    health_score = serializers.FloatField(read_only=True, allow_null=True)
    is_healthy = serializers.BooleanField(read_only=True)
    is_critical = serializers.BooleanField(read_only=True)
    is_stale = serializers.SerializerMethodField()

    class Meta:
        model = Service
        fields = (
            *AUDIT_FIELDS,
            *SOFT_DELETE_FIELDS,
            "name",
            "display_name",
            "description",
            "build_type",
            "protocol",
            "priority",
            "location",
            "endpoint",
            "port",
            "service_version",
            "tags",
            "metadata",
            "config",
            "status",
            "health_check_url",
            "last_health_check",
            "last_seen",
            "response_time_ms",
            "required",
            "enabled",
            "auto_start",
            "source_url",
            "registry_url",
            "success_count",
            "failure_count",
            "consecutive_successes",
            "consecutive_failures",
            "dependencies",
            "health_score",
            "is_healthy",
            "is_critical",
            "is_stale",
        )
        read_only_fields = (
            "deleted_at",
            "last_health_check",
            "last_seen",
            "response_time_ms",
            "success_count",
            "failure_count",
            "consecutive_successes",
            "consecutive_failures",
        )

    def get_dependencies(self, obj) -> list[str]:
        return sorted(other.name for other in obj.dependencies.all() if other.deleted_at is None)

    def get_is_stale(self, obj) -> bool:
        # Read the threshold once per response (the context is shared by every item of a list).
        if "stale_minutes" not in self.context:
            self.context["stale_minutes"] = runtime.get("REGISTRY_STALE_MINUTES")
        return obj.is_stale(self.context["stale_minutes"])

    def validate_metadata(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    validate_config = validate_metadata


class ServiceBriefSerializer(serializers.ModelSerializer):
    """A service as listed in dependency and impact answers."""

    # A plain string here: the status enum is described once, on the Service component.
    status = serializers.CharField(read_only=True, help_text="The service's status, as on the service itself.")
    health_score = serializers.FloatField(read_only=True, allow_null=True)
    is_critical = serializers.BooleanField(read_only=True)

    class Meta:
        model = Service
        fields = (
            "id",
            "name",
            "display_name",
            "status",
            "priority",
            "required",
            "enabled",
            "health_score",
            "is_critical",
        )
        read_only_fields = fields


class DependencyInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=100, help_text="Name of the service this one needs.")


class HealthReportSerializer(InputSerializer):
    status = serializers.ChoiceField(choices=CheckResult.choices)
    response_time_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=3_600_000)


class HeartbeatSerializer(InputSerializer):
    names = serializers.ListField(
        child=serializers.CharField(max_length=100), allow_empty=False, max_length=MAX_HEARTBEAT_NAMES
    )


class HeartbeatResultSerializer(serializers.Serializer):
    seen = serializers.IntegerField(help_text="How many named services were marked seen.")
    unknown = serializers.ListField(child=serializers.CharField(), help_text="Names not registered (or deleted).")
