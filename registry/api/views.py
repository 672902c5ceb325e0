from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.permissions import HasPerms
from core.api.viewsets import BaseModelViewSet
from registry import selectors, services
from registry.choices import CheckResult
from registry.models import Service

from .filters import ServiceFilter
from .serializers import (
    DependencyInputSerializer,
    HealthReportSerializer,
    HeartbeatResultSerializer,
    HeartbeatSerializer,
    ServiceBriefSerializer,
    ServiceSerializer,
)

REPORT_PERM = "registry.report_service_status"
TRANSITIVE_PARAM = OpenApiParameter("transitive", bool, description="Follow the graph all the way instead of one step.")


GRAPH_ACTIONS = ("dependencies", "add_dependency", "remove_dependency", "dependents")


def _flag(request, name) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


class ServiceViewSet(BaseModelViewSet):
    """Registered services, addressed by name."""

    queryset = Service.all_objects.prefetch_related(
        "tags", Prefetch("dependencies", queryset=Service.all_objects.only("id", "name", "deleted_at"))
    )
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilter
    lookup_field = "name"
    lookup_value_regex = "[a-z0-9][a-z0-9_-]*"
    search_fields = ("name", "display_name", "description")
    ordering_fields = (
        "name",
        "priority_rank",
        "status",
        "build_type",
        "protocol",
        "response_time_ms",
        "last_seen",
        "last_health_check",
        "created_at",
        "updated_at",
    )
    ordering = ("name",)
    action_permissions = {
        **BaseModelViewSet.action_permissions,
        "dependencies": ["registry.view_service"],
        "add_dependency": ["registry.change_service", "registry.add_dependency"],
        "remove_dependency": ["registry.change_service", "registry.delete_dependency"],
        "dependents": ["registry.view_service"],
        "health": [REPORT_PERM],
    }
    create_service = staticmethod(services.service_create)
    update_service = staticmethod(services.service_update)
    update_instance_kwarg = "service"

    def get_queryset(self):
        queryset = super().get_queryset().with_priority_rank()
        if self.action in GRAPH_ACTIONS:
            queryset = queryset.prefetch_related(None)  # these answer with other services, not this one
        return queryset

    def _related_other(self, name) -> Service:
        other = Service.objects.filter(name=name).first()
        if other is None:
            raise NotFound(f"No service named {name!r}.")
        return other

    @extend_schema(parameters=[TRANSITIVE_PARAM], responses=ServiceBriefSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def dependencies(self, request, name=None):
        """What this service needs; with ``transitive=true`` everything it needs, in start-up order."""
        service = self.get_object()
        found = selectors.service_dependencies(service=service, transitive=_flag(request, "transitive"))
        return Response(ServiceBriefSerializer(found, many=True).data)

    @extend_schema(request=DependencyInputSerializer, responses={201: ServiceBriefSerializer})
    @dependencies.mapping.post
    def add_dependency(self, request, name=None):
        """Record that this service needs another; refused with 400 if that would close a cycle."""
        service = self.get_object()
        payload = DependencyInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        other = self._related_other(payload.validated_data["name"])
        _, created = services.service_add_dependency(service=service, depends_on=other)
        return Response(
            ServiceBriefSerializer(other).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"dependencies/(?P<other>[a-z0-9][a-z0-9_-]*)")
    def remove_dependency(self, request, name=None, other=None):
        service = self.get_object()
        depends_on = self._related_other(other)
        if not services.service_remove_dependency(service=service, depends_on=depends_on):
            raise NotFound(f"{service.name} does not depend on {depends_on.name}.")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[TRANSITIVE_PARAM], responses=ServiceBriefSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def dependents(self, request, name=None):
        """What needs this service; with ``transitive=true`` everything that breaks if it goes down."""
        service = self.get_object()
        found = selectors.service_dependents(service=service, transitive=_flag(request, "transitive"))
        return Response(ServiceBriefSerializer(found, many=True).data)

    @extend_schema(request=HealthReportSerializer, responses=ServiceSerializer)
    @action(detail=True, methods=["post"])
    def health(self, request, name=None):
        """Record one health check result. The status flips only after the configured number
        of consecutive failures or successes; maintenance and disabled services keep theirs."""
        service = self.get_object()
        payload = HealthReportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        service = services.service_record_health(
            service=service,
            passing=payload.validated_data["status"] == CheckResult.PASSING,
            response_time_ms=payload.validated_data.get("response_time_ms"),
        )
        service = get_object_or_404(self.get_queryset(), pk=service.pk)
        return Response(self.get_serializer(service).data)


class HeartbeatView(APIView):
    """Services report that they are alive: every named live service is marked seen now."""

    permission_classes = [HasPerms.of(REPORT_PERM)]

    @extend_schema(request=HeartbeatSerializer, responses=HeartbeatResultSerializer)
    def post(self, request):
        payload = HeartbeatSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        result = services.service_heartbeat(names=payload.validated_data["names"])
        return Response(HeartbeatResultSerializer({"seen": len(result.seen), "unknown": result.unknown}).data)


class StatisticsView(APIView):
    """Counts over live services: by status, build type, protocol and priority; average
    response time; required services not healthy; stale services."""

    permission_classes = [HasPerms.of("registry.view_service")]

    @extend_schema(
        parameters=[OpenApiParameter("stale_minutes", int, description="Override REGISTRY_STALE_MINUTES.")],
        responses=dict,
    )
    def get(self, request):
        raw = request.query_params.get("stale_minutes")
        stale_minutes = None
        if raw not in (None, ""):
            try:
                stale_minutes = int(raw)
            except ValueError:
                stale_minutes = -1
            if not 0 <= stale_minutes <= 5_256_000:
                raise DjangoValidationError({"stale_minutes": ["Enter a whole number of minutes (0 or more)."]})
        return Response(selectors.registry_statistics(stale_minutes=stale_minutes))
