"""The service catalogue: what runs, how to reach it, whether it is healthy, what it needs."""

from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator, URLValidator
from django.db import models
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone

from core.models import AliveManager, BaseModel, SoftDeleteModel, SoftDeleteQuerySet
from core.tags import validate_tag_name

from .choices import PRIORITY_RANK, BuildType, Priority, Protocol, ServiceStatus

# https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string
# with [0-9] for \d (Python's \d also matches non-ASCII digits) and \A...\Z anchors.
SEMVER_PATTERN = (
    r"\A(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z"
)
validate_semver = RegexValidator(
    SEMVER_PATTERN, "Enter a semantic version such as 1.4.2 or 2.0.0-rc.1 (see semver.org).", "invalid_version"
)
validate_service_name = RegexValidator(
    r"\A[a-z0-9][a-z0-9_-]*\Z",
    "Use lowercase letters, digits, hyphens and underscores, starting with a letter or digit.",
    "invalid_name",
)
validate_http_url = URLValidator(schemes=["http", "https"])


class Tag(BaseModel):
    name = models.CharField(max_length=50, unique=True, validators=[validate_tag_name])

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


def stale_q(minutes: int, now=None) -> Q:
    cutoff = (now or timezone.now()) - timedelta(minutes=minutes)
    return Q(enabled=True) & (Q(last_seen__lt=cutoff) | Q(last_seen__isnull=True, created_at__lt=cutoff))


class ServiceQuerySet(SoftDeleteQuerySet):
    def stale(self, minutes: int):
        """Enabled services not seen for ``minutes``. A service that never reported counts
        from its registration, so a new one gets the same grace period."""
        return self.filter(stale_q(minutes))

    def with_all_tags(self, names):
        names = set(names)
        if not names:
            return self
        through = Service.tags.through.objects.filter(tag__name__in=names)
        matching = through.values("service_id").annotate(n=models.Count("tag_id")).filter(n=len(names))
        return self.filter(pk__in=matching.values("service_id"))

    def with_any_tags(self, names):
        names = set(names)
        if not names:
            return self
        return self.filter(pk__in=Service.tags.through.objects.filter(tag__name__in=names).values("service_id"))

    def with_priority_rank(self):
        return self.annotate(
            priority_rank=Case(
                *(When(priority=value, then=Value(rank)) for value, rank in PRIORITY_RANK.items()),
                output_field=IntegerField(),
            )
        )


class ServiceManager(AliveManager.from_queryset(ServiceQuerySet)):
    pass


class Service(SoftDeleteModel):
    name = models.CharField(
        max_length=100,
        validators=[validate_service_name],
        help_text="Machine name, unique among live services; the API addresses services by it.",
    )
    display_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    build_type = models.CharField(max_length=20, choices=BuildType.choices, default=BuildType.CUSTOM, db_index=True)
    protocol = models.CharField(max_length=20, choices=Protocol.choices, default=Protocol.STDIO, db_index=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM, db_index=True)
    location = models.CharField(max_length=500, blank=True, help_text="Path or URL of the executable or service.")
    endpoint = models.CharField(max_length=500, blank=True)
    port = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    # ``version`` is the record's optimistic-lock counter (BaseModel); this is the build's own version.
    service_version = models.CharField(
        max_length=100,
        blank=True,
        validators=[validate_semver],
        help_text="Semantic version of the running build, e.g. 1.4.2.",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="services")
    metadata = models.JSONField(default=dict, blank=True)
    config = models.JSONField(default=dict, blank=True)

    status = models.CharField(
        max_length=20, choices=ServiceStatus.choices, default=ServiceStatus.UNKNOWN, db_index=True
    )
    health_check_url = models.CharField(
        max_length=500, blank=True, validators=[validate_http_url], help_text="Probed by manage.py check_services."
    )
    last_health_check = models.DateTimeField(null=True, blank=True, editable=False)
    last_seen = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    response_time_ms = models.PositiveIntegerField(null=True, blank=True, editable=False)

    required = models.BooleanField(default=False, help_text="The platform cannot work without it.")
    enabled = models.BooleanField(default=True)
    auto_start = models.BooleanField(default=False)

    source_url = models.CharField(max_length=500, blank=True, validators=[validate_http_url])
    registry_url = models.CharField(max_length=500, blank=True, validators=[validate_http_url])

    success_count = models.PositiveIntegerField(default=0, editable=False)
    failure_count = models.PositiveIntegerField(default=0, editable=False)
    consecutive_successes = models.PositiveIntegerField(default=0, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)

    dependencies = models.ManyToManyField(
        "self",
        through="Dependency",
        through_fields=("service", "depends_on"),
        symmetrical=False,
        related_name="dependents",
        blank=True,
    )

    objects = ServiceManager()
    all_objects = models.Manager.from_queryset(ServiceQuerySet)()

    # Written only by heartbeats and health reports (``registry.services``), without a new
    # ``version``: a busy service never turns an operator's pending edit into a conflict, and
    # an operator's save never writes back the values its copy was read with.
    _telemetry_fields = (
        "last_health_check",
        "last_seen",
        "response_time_ms",
        "success_count",
        "failure_count",
        "consecutive_successes",
        "consecutive_failures",
    )

    class Meta(SoftDeleteModel.Meta):
        ordering = ["name"]
        permissions = [("report_service_status", "Can report service health checks and heartbeats")]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(deleted_at__isnull=True),
                name="registry_service_name_live_unique",
                violation_error_message="A service with this name already exists.",
            ),
            models.CheckConstraint(
                condition=Q(port__isnull=True) | Q(port__gte=1, port__lte=65535), name="registry_service_port_range"
            ),
            # A disabled service is exactly one that is not enabled: the flag and the status never disagree.
            models.CheckConstraint(
                condition=Q(enabled=False, status=ServiceStatus.DISABLED)
                | (Q(enabled=True) & ~Q(status=ServiceStatus.DISABLED)),
                name="registry_service_disabled_matches_enabled",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def checks_total(self) -> int:
        return self.success_count + self.failure_count

    @property
    def health_score(self) -> float | None:
        """Share of passing checks, or None before the first check."""
        total = self.checks_total
        return round(self.success_count / total, 4) if total else None

    @property
    def is_healthy(self) -> bool:
        return self.status == ServiceStatus.HEALTHY

    @property
    def is_critical(self) -> bool:
        return (self.required or self.priority == Priority.CRITICAL) and not self.is_healthy

    def is_stale(self, minutes: int, now=None) -> bool:
        if not self.enabled:
            return False
        now = now or timezone.now()
        seen = self.last_seen or self.created_at
        return seen < now - timedelta(minutes=minutes)


class Dependency(BaseModel):
    """``service`` needs ``depends_on`` to run."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependency_links")
    depends_on = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="dependent_links")

    class Meta:
        ordering = ["service__name", "depends_on__name"]
        verbose_name_plural = "dependencies"
        constraints = [
            models.UniqueConstraint(fields=["service", "depends_on"], name="registry_dependency_unique_pair"),
            models.CheckConstraint(condition=~Q(service=F("depends_on")), name="registry_dependency_not_self"),
        ]

    def __str__(self):
        return f"{self.service} → {self.depends_on}"
