from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from core import runtime
from core.api.pagination import CursorPagination
from core.api.permissions import HasPerms, ModelPermissions
from core.api.viewsets import BaseModelViewSet
from core.errors import Invalid

from .. import lanes, selectors, services
from ..normalize import InvalidMCNumber, normalize_mc_number
from .filters import CallFilter, CarrierFilter, FollowUpFilter, LoadFilter, NegotiationFilter
from .serializers import (
    CEILING_PERMISSION,
    CallDetailSerializer,
    CallInputSerializer,
    CallSerializer,
    CarrierHistoryQuerySerializer,
    CarrierHistorySerializer,
    CarrierSerializer,
    CeilingSuggestionSerializer,
    FollowUpCreateSerializer,
    FollowUpSerializer,
    LaneRateSerializer,
    LaneRatesQuerySerializer,
    LoadListSerializer,
    LoadSerializer,
    MetricsQuerySerializer,
    NegotiationSerializer,
    OfferInputSerializer,
    OfferResultSerializer,
    VerificationSerializer,
)

# The broker's ceiling and every figure it is drawn from (the lanes' percentiles, the suggestion
# CEILING_AUTO_SUGGEST applies): managers and admins only, never sales agents.
SeesCeilings = HasPerms.of("carriers.view_load", CEILING_PERMISSION)


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
    create_service = staticmethod(services.carrier_create)
    update_service = staticmethod(services.carrier_update)
    update_instance_kwarg = "carrier"

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

    @extend_schema(parameters=[CarrierHistoryQuerySerializer], responses=CarrierHistorySerializer)
    @action(
        detail=True, methods=["get"], permission_classes=[HasPerms.of("carriers.view_carrier", "carriers.view_call")]
    )
    def history(self, request, mc_number=None):
        """The carrier's calls, negotiations and bookings, newest first, with all-time totals.
        Page back with ``?before=<next_before>``."""
        query = CarrierHistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        history = selectors.carrier_history(carrier=self.get_object(), **query.validated_data)
        return Response(CarrierHistorySerializer(history, context=self.get_serializer_context()).data)


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
    action_permissions = {
        **BaseModelViewSet.action_permissions,
        "offers": ["carriers.add_offer"],
    }
    create_service = staticmethod(services.load_create)
    update_service = staticmethod(services.load_update)
    update_instance_kwarg = "load"

    def reads_rows(self) -> bool:
        """The search and a load's JSON detail are written out from plain rows (LoadListSerializer,
        the same fields and values as LoadSerializer). The browsable API's detail keeps model
        instances: its edit form is built from the instance."""
        if getattr(self, "swagger_fake_view", False):  # the schema describes LoadSerializer
            return False
        return self.action == "list" or (self.action == "retrieve" and self.request.accepted_renderer.format == "json")

    def get_queryset(self):
        if self.reads_rows():
            columns = LoadListSerializer.columns_for(self.request.user)
            return selectors.load_rows(columns=columns, include_deleted=self.include_deleted())
        return super().get_queryset()

    def get_serializer_class(self):
        return LoadListSerializer if self.reads_rows() else super().get_serializer_class()

    @extend_schema(request=None, responses=CeilingSuggestionSerializer)
    @action(detail=True, methods=["get"], url_path="ceiling-suggestion", permission_classes=[SeesCeilings])
    def ceiling_suggestion(self, request, load_id=None):
        """The ceiling this load's lane history supports and how it was derived (for a load posted
        without one; CEILING_AUTO_SUGGEST applies it on posting)."""
        return Response(CeilingSuggestionSerializer(lanes.suggest_ceiling(self.get_object())).data)

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


class NegotiationViewSet(viewsets.ReadOnlyModelViewSet):
    """Negotiations with their rounds, newest first: what the desk is negotiating right now
    (``?status=open``) and what it did. The ceiling is never shown here."""

    queryset = selectors.negotiation_queryset()
    serializer_class = NegotiationSerializer
    filterset_class = NegotiationFilter
    permission_classes = [ModelPermissions]
    ordering_fields = ("created_at", "updated_at")
    ordering = ("-created_at",)
    search_fields = ()


class FollowUpViewSet(BaseModelViewSet):
    """Follow-ups after calls, set when a call is logged (``follow_up`` in ``POST /calls/``) or
    added later here. A rep's due list is ``?assigned_to=me&done=false&due_before=<time>``;
    ``POST {id}/done/`` marks one done."""

    queryset = selectors.follow_up_queryset()
    serializer_class = FollowUpSerializer
    filterset_class = FollowUpFilter
    http_method_names = ["get", "patch", "post", "head", "options"]
    ordering_fields = ("due_at", "created_at")
    ordering = ("due_at",)
    search_fields = ("note", "call__mc_number", "call__external_id")
    action_permissions = {**BaseModelViewSet.action_permissions, "done": ["carriers.change_followup"]}
    create_service = staticmethod(services.follow_up_create)
    update_service = staticmethod(services.follow_up_update)
    update_instance_kwarg = "follow_up"

    def get_serializer_class(self):
        return FollowUpCreateSerializer if self.action == "create" else FollowUpSerializer

    @extend_schema(request=None, responses=FollowUpSerializer)
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        follow_up = services.follow_up_done(follow_up=self.get_object())
        return Response(FollowUpSerializer(follow_up, context=self.get_serializer_context()).data)


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
        call, created, rounds_linked = services.call_log(**data)
        if created:  # its load, carrier and authors are the ones just written
            selectors.prefetch_call_rounds(call, rounds=rounds_linked > 0, follow_ups=bool(data.get("follow_up")))
        else:
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


class LaneRatesView(APIView):
    """What the desk has paid per lane (origin → destination state) and equipment type: bookings,
    and the 25th/50th/75th percentiles of the agreed rate per mile and of the premium over the
    posted rate. The period defaults to the last LANE_RATE_DAYS days.

    Needs ``carriers.view_load_ceiling``, as the ceiling suggestion does: with CEILING_AUTO_SUGGEST
    on, a lane's 75th percentile is the ceiling of the loads posted on it."""

    permission_classes = [SeesCeilings]

    @extend_schema(
        parameters=[
            OpenApiParameter("origin_state", str, description="Two-letter state code, e.g. IL."),
            OpenApiParameter("destination_state", str, description="Two-letter state code, e.g. TX."),
            OpenApiParameter("equipment_type", str, description="dry_van, reefer, flatbed, …"),
            OpenApiParameter("from", str, description="First booking day (YYYY-MM-DD), included."),
            OpenApiParameter("to", str, description="Last booking day (YYYY-MM-DD), included."),
        ],
        responses=LaneRateSerializer(many=True),
    )
    def get(self, request):
        query = LaneRatesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        start, end = params.pop("start", None), params.pop("end", None)
        if start is None and end is None:
            start = timezone.localdate() - timedelta(days=runtime.get("LANE_RATE_DAYS") - 1)
        since, until = selectors.period_bounds(start, end)
        rows = lanes.lane_rates(since=since, until=until, **params)
        return Response(LaneRateSerializer(rows, many=True).data)
