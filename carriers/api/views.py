from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.pagination import CursorPagination
from core.api.permissions import HasPerms
from core.api.viewsets import BaseModelViewSet
from core.errors import Invalid

from .. import selectors, services
from ..normalize import InvalidMCNumber, normalize_mc_number
from .filters import CallFilter, CarrierFilter, LoadFilter
from .serializers import (
    CallDetailSerializer,
    CallInputSerializer,
    CallSerializer,
    CarrierSerializer,
    LoadSerializer,
    MetricsQuerySerializer,
    OfferInputSerializer,
    OfferResultSerializer,
    VerificationSerializer,
)


class LoadCursorPagination(CursorPagination):
    ordering = ("pickup_datetime",)


class CallCursorPagination(CursorPagination):
    ordering = ("-started_at",)


class CarrierViewSet(BaseModelViewSet):
    """Carriers by MC number. Verification data is written only by FMCSA lookups."""

    queryset = selectors.carrier_queryset()
    serializer_class = CarrierSerializer
    filterset_class = CarrierFilter
    lookup_field = "mc_number"
    lookup_value_regex = r"[0-9]{1,8}"
    search_fields = ("legal_name", "dba_name", "mc_number")
    ordering_fields = ("mc_number", "legal_name", "verified_at", "created_at")
    ordering = ("mc_number",)
    action_permissions = {**BaseModelViewSet.action_permissions, "verify": ["carriers.verify_carrier"]}

    def perform_create(self, serializer):
        serializer.instance = services.carrier_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.carrier_update(carrier=serializer.instance, **serializer.validated_data)

    @extend_schema(
        responses=VerificationSerializer,
        parameters=[OpenApiParameter("mc", str, OpenApiParameter.PATH, description="123456, MC123456, MC-123456…")],
    )
    @action(detail=False, methods=["get"], url_path=r"verify/(?P<mc>[^/]+)")
    def verify(self, request, mc=None):
        """Is this carrier eligible to haul for us? Answers from FMCSA (or its fresh stored answer)."""
        try:
            mc_number = normalize_mc_number(mc)
        except InvalidMCNumber as exc:
            raise Invalid({"mc": [str(exc)]}) from None
        verification = services.carrier_verify(mc_number=mc_number)
        return Response(VerificationSerializer(verification).data)


class LoadViewSet(BaseModelViewSet):
    """Posted loads, addressed by ``load_id``. The ceiling (``max_rate``) is shown only to
    holders of ``carriers.view_load_ceiling``."""

    queryset = selectors.load_queryset()
    serializer_class = LoadSerializer
    filterset_class = LoadFilter
    pagination_class = LoadCursorPagination
    lookup_field = "load_id"
    lookup_value_regex = r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}"
    search_fields = ("load_id", "origin_city", "destination_city", "commodity_type")
    ordering_fields = ("pickup_datetime", "delivery_datetime", "loadboard_rate", "miles", "weight", "created_at")
    ordering = ("pickup_datetime",)
    action_permissions = {**BaseModelViewSet.action_permissions, "offers": ["carriers.add_offer"]}

    def perform_create(self, serializer):
        serializer.instance = services.load_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.load_update(load=serializer.instance, **serializer.validated_data)

    @extend_schema(request=OfferInputSerializer, responses=OfferResultSerializer)
    @action(detail=True, methods=["post"])
    def offers(self, request, load_id=None):
        """One round of rate negotiation, decided here from the load's own rates. An accepted
        offer books the load; when several carriers agree at once only one gets it (409 for the rest)."""
        serializer = OfferInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = services.offer_make(
            load_id=load_id,
            mc_number=data["mc_number"],
            amount=data["amount"],
            call_external_id=data["call_id"],
        )
        return Response(OfferResultSerializer(result).data)


class CallViewSet(BaseModelViewSet):
    """Finished calls as logged by the voice platform. Append-only: no update, no delete."""

    queryset = selectors.call_queryset()
    serializer_class = CallSerializer
    filterset_class = CallFilter
    pagination_class = CallCursorPagination
    http_method_names = ["get", "post", "head", "options"]
    search_fields = ("external_id", "summary")
    ordering_fields = ("started_at",)
    ordering = ("-started_at",)

    def get_queryset(self):
        if self.action == "retrieve":
            return selectors.call_queryset(with_rounds=True)
        return super().get_queryset()

    def get_serializer_class(self):
        if self.action == "retrieve":
            return CallDetailSerializer
        if self.action == "create":
            return CallInputSerializer
        return CallSerializer

    @extend_schema(request=CallInputSerializer, responses={200: CallDetailSerializer, 201: CallDetailSerializer})
    def create(self, request, *args, **kwargs):
        """Log a finished call. The same ``external_id`` again answers 200 with the stored call."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        call, created = services.call_log(**data)
        call = selectors.call_queryset(with_rounds=True).get(pk=call.pk)
        body = CallDetailSerializer(call, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class CarrierSalesMetricsView(APIView):
    """Sales dashboard figures for a period (``from``/``to`` are dates, both included)."""

    permission_classes = [HasPerms.of("carriers.view_call", "carriers.view_load")]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="First day (YYYY-MM-DD), included."),
            OpenApiParameter("to", str, description="Last day (YYYY-MM-DD), included."),
        ],
        responses=dict,
    )
    def get(self, request):
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        metrics = selectors.carrier_sales_metrics(
            start=query.validated_data.get("start"), end=query.validated_data.get("end")
        )
        return Response(metrics)
