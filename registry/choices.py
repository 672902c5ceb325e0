from django.db import models


class BuildType(models.TextChoices):
    FASTMCP = "fastmcp", "FastMCP"
    STUB = "stub", "Stub"
    EXTERNAL = "external", "External"
    OFFICIAL = "official", "Official"
    CUSTOM = "custom", "Custom"
    DOCKER = "docker", "Docker"


class Protocol(models.TextChoices):
    STDIO = "stdio", "stdio"
    HTTP = "http", "HTTP"
    WEBSOCKET = "websocket", "WebSocket"
    TCP = "tcp", "TCP"
    UNIX_SOCKET = "unix_socket", "Unix socket"


class Priority(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


# Most urgent first; used to sort by priority instead of alphabetically.
PRIORITY_RANK = {Priority.CRITICAL: 0, Priority.HIGH: 1, Priority.MEDIUM: 2, Priority.LOW: 3}


class ServiceStatus(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    UNHEALTHY = "unhealthy", "Unhealthy"
    UNKNOWN = "unknown", "Unknown"
    MAINTENANCE = "maintenance", "Maintenance"
    DISABLED = "disabled", "Disabled"


# Statuses an operator sets; health checks never move a service out of them.
OPERATOR_HELD_STATUSES = (ServiceStatus.MAINTENANCE, ServiceStatus.DISABLED)


class CheckResult(models.TextChoices):
    PASSING = "passing", "Passing"
    FAILING = "failing", "Failing"
