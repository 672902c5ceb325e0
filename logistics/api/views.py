from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.permissions import HasPerms
from core.api.viewsets import BaseModelViewSet
from logistics import selectors, services
from logistics.models import CostModel, Customer, Decision, Hub, OperationalOutcome, Order, Route, RouteStop, Vehicle

from .filters import CustomerFilter, DecisionFilter, OrderFilter, OutcomeFilter, RouteFilter, VehicleFilter
from .serializers import (
    CostModelHistorySerializer,
    CostModelSerializer,
    CustomerSerializer,
    DecisionBriefSerializer,
    DecisionInputSerializer,
    DecisionSerializer,
    HubSerializer,
    OrderSerializer,
    OutcomeSerializer,
    RouteCompleteSerializer,
    RouteSerializer,
    VehicleSerializer,
)

AUDIT = ("created_by", "updated_by")


class HubViewSet(BaseModelViewSet):
    queryset = Hub.objects.select_related(*AUDIT)
    serializer_class = HubSerializer
    search_fields = ("name", "address")
    ordering_fields = ("name", "created_at")
    ordering = ("name",)
    create_service = staticmethod(services.hub_create)
    update_service = staticmethod(services.hub_update)
    update_instance_kwarg = "hub"


class CustomerViewSet(BaseModelViewSet):
    queryset = Customer.all_objects.select_related(*AUDIT)
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    search_fields = ("reference", "name", "email")
    ordering_fields = ("reference", "name", "created_at")
    ordering = ("reference",)
    create_service = staticmethod(services.customer_create)
    update_service = staticmethod(services.customer_update)
    update_instance_kwarg = "customer"


class OrderViewSet(BaseModelViewSet):
    queryset = Order.all_objects.select_related(*AUDIT, "customer", "route")
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    search_fields = ("reference", "destination_city", "destination_address", "customer__name")
    ordering_fields = ("reference", "window_start", "window_end", "priority", "weight_t", "price_kes", "created_at")
    ordering = ("window_start", "reference")
    create_service = staticmethod(services.order_create)
    update_service = staticmethod(services.order_update)
    update_instance_kwarg = "order"


class VehicleViewSet(BaseModelViewSet):
    queryset = Vehicle.all_objects.select_related(*AUDIT)
    serializer_class = VehicleSerializer
    filterset_class = VehicleFilter
    search_fields = ("reference", "vehicle_type")
    ordering_fields = ("reference", "vehicle_type", "capacity_weight_t", "available_from", "created_at")
    ordering = ("reference",)
    create_service = staticmethod(services.vehicle_create)
    update_service = staticmethod(services.vehicle_update)
    update_instance_kwarg = "vehicle"


class RouteViewSet(viewsets.ReadOnlyModelViewSet):
    """Routes created by committed decisions, with their stops in order. Read-only but for
    starting and completing them."""

    queryset = Route.objects.select_related("vehicle").prefetch_related(
        Prefetch("stops", queryset=RouteStop.objects.select_related("order").order_by("sequence"))
    )
    serializer_class = RouteSerializer
    filterset_class = RouteFilter
    search_fields = ("reference", "vehicle__reference")
    ordering_fields = ("planned_start", "reference", "cost_kes", "distance_km")
    ordering = ("-planned_start", "reference")
    action_permissions = {"start": ["logistics.operate_route"], "complete": ["logistics.operate_route"]}

    @extend_schema(request=None, responses=RouteSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        route = services.route_start(route=self.get_object())
        return Response(self.get_serializer(self.get_queryset().get(pk=route.pk)).data)

    @extend_schema(request=RouteCompleteSerializer, responses={201: OutcomeSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        route = self.get_object()
        payload = RouteCompleteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        outcome = services.route_complete(
            route=route,
            actual_distance_km=data["actual_distance_km"],
            actual_duration_min=data["actual_duration_min"],
            actual_cost_kes=data["actual_cost_kes"],
            revenue_kes=data["revenue_kes"],
            results={item["order"]: item["result"] for item in data["results"]},
        )
        outcome = OperationalOutcome.objects.select_related("route").get(pk=outcome.pk)
        return Response(OutcomeSerializer(outcome).data, status=status.HTTP_201_CREATED)


class DecisionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Planning decisions. ``POST`` queues a solve and answers 202 with the decision ``solving``;
    ``GET`` shows the proposal once it is ``proposed``; ``commit/`` applies it."""

    queryset = Decision.objects.select_related("created_by")
    filterset_class = DecisionFilter
    ordering_fields = ("created_at", "total_cost_kes")
    ordering = ("-created_at",)
    action_permissions = {"commit": ["logistics.commit_decision"]}

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            return queryset.defer("plan", "state_snapshot", "left_out", "solver_stats")
        return queryset.prefetch_related(
            Prefetch("routes", queryset=Route.objects.only("id", "reference", "decision_id"))
        )

    def get_serializer_class(self):
        if self.action == "list":
            return DecisionBriefSerializer
        if self.action == "create":
            return DecisionInputSerializer
        return DecisionSerializer

    @extend_schema(request=DecisionInputSerializer, responses={202: DecisionSerializer})
    def create(self, request, *args, **kwargs):
        payload = DecisionInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        decision = services.decision_create(**payload.validated_data)
        # The proposal is filled in by the background job; this answer shows the decision as queued.
        return Response(DecisionSerializer(decision).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=DecisionSerializer)
    @action(detail=True, methods=["post"])
    def commit(self, request, pk=None):
        decision = services.decision_commit(decision=self.get_object())
        return Response(DecisionSerializer(self.get_queryset().get(pk=decision.pk)).data)


class OutcomeViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = OperationalOutcome.objects.select_related("route")
    serializer_class = OutcomeSerializer
    filterset_class = OutcomeFilter
    ordering_fields = ("created_at",)
    ordering = ("-created_at",)


class CostModelView(APIView):
    """The cost model in force. Operators change it here or in the admin; every outcome calibrates it."""

    def get_permissions(self):
        perm = (
            "logistics.view_costmodel"
            if self.request.method in ("GET", "HEAD", "OPTIONS")
            else "logistics.change_costmodel"
        )
        return [HasPerms.of(perm)()]

    @extend_schema(responses=CostModelSerializer)
    def get(self, request):
        return Response(CostModelSerializer(services.cost_model_current()).data)

    @extend_schema(request=CostModelSerializer, responses=CostModelSerializer)
    def patch(self, request):
        current = services.cost_model_current()
        payload = CostModelSerializer(current, data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        expected = request.data.get("version") if isinstance(request.data, dict) else None
        if expected is not None and int(expected) != current.version:
            from core.errors import Conflict

            raise Conflict(f"The cost model is at version {current.version}, not {expected}.", code="stale_version")
        updated = services.cost_model_update(cost_model=current, **payload.validated_data)
        return Response(CostModelSerializer(CostModel.objects.get(pk=updated.pk)).data)


class CostModelHistoryView(APIView):
    permission_classes = [HasPerms.of("logistics.view_costmodel")]

    @extend_schema(responses=CostModelHistorySerializer(many=True))
    def get(self, request):
        current = services.cost_model_current()
        rows = current.history.select_related("history_user").order_by("-history_date")[:200]
        return Response(CostModelHistorySerializer(rows, many=True).data)


class MetricsView(APIView):
    """Orders by status, on-time rate, fleet utilisation, and the mean absolute percentage error
    of cost, duration and distance estimates by day — calibration visibly at work."""

    permission_classes = [HasPerms.of("logistics.view_operationaloutcome", "logistics.view_order")]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="ISO date or date-time (inclusive)."),
            OpenApiParameter("to", str, description="ISO date or date-time (inclusive)."),
        ],
        responses=dict,
    )
    def get(self, request):
        start, end = selectors.parse_range(request.query_params.get("from"), request.query_params.get("to"))
        return Response(selectors.logistics_metrics(start=start, end=end))
