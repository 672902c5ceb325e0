"""/api/v1/webhooks/: a user's webhook endpoints and their deliveries (docs/events.md, "Webhooks").

Each user sees and manages only their own endpoints (admins every one). The secret appears in two answers only:
creating an endpoint and rotating its secret."""

from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.permissions import ModelPermissions
from core.api.serializers import InputSerializer, StrictInputMixin
from events import endpoint_services, webhooks
from events.models import Delivery, DeliveryAttempt, DeliveryStatus, WebhookEndpoint
from events.types import TYPES

# --- Serializers ----------------------------------------------------------------------------------------------


class EndpointSerializer(StrictInputMixin, serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.URLField(max_length=2000, help_text="Where events are POSTed (http or https).")
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=len(TYPES),
        help_text="The event types to deliver here; empty (the default) for every type you may read.",
    )
    is_active = serializers.BooleanField(
        required=False, help_text="false disables the endpoint; true enables it again (failure count reset)."
    )

    class Meta:
        model = WebhookEndpoint
        fields = (
            "id",
            "owner",
            "url",
            "event_types",
            "description",
            "is_active",
            "disabled_reason",
            "consecutive_failures",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("disabled_reason", "consecutive_failures", "created_at", "updated_at")


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The signing secret (whsec_…). Shown only now; store it, it is not shown again."
    )

    class Meta(EndpointSerializer.Meta):
        fields = (*EndpointSerializer.Meta.fields, "secret")


class RotateSecretInputSerializer(InputSerializer):
    expire_previous = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Stop signing with the old secret at once (it leaked). Otherwise it also signs for 24 hours.",
    )


class RotatedSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new signing secret. Shown only now.")
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until when the old secret also signs deliveries (null: it no longer does)."
    )


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ("number", "attempted_at", "status_code", "latency_ms", "response_excerpt", "error")


class DeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="event.type", read_only=True)
    sequence = serializers.IntegerField(source="event.sequence", read_only=True)
    webhook_id = serializers.SerializerMethodField(help_text="The webhook-id header: the same on every attempt.")
    attempt_log = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = (
            "id",
            "endpoint",
            "event",
            "event_type",
            "sequence",
            "webhook_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "created_at",
            "delivered_at",
            "attempt_log",
        )
        read_only_fields = fields

    def get_webhook_id(self, delivery) -> str:
        return webhooks.message_id(delivery.event)


class DeliveryFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=DeliveryStatus.choices)
    event_type = filters.CharFilter(field_name="event__type")

    class Meta:
        model = Delivery
        fields = ("status", "event_type")


DELIVERY_FILTER_PARAMS = [
    OpenApiParameter("status", str, enum=DeliveryStatus.values, description="Only deliveries in this state."),
    OpenApiParameter("event_type", str, description="Only deliveries of this event type."),
]

# --- Views ----------------------------------------------------------------------------------------------------


def _payload(serializer_class, request, **kwargs):
    payload = serializer_class(data=request.data, **kwargs)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


def _deliveries():
    return Delivery.objects.select_related("event").prefetch_related("attempt_log").order_by("-created_at", "-id")


class EndpointViewSet(viewsets.ModelViewSet):
    """Your webhook endpoints. ``POST`` creates one and answers its signing secret, once."""

    # Never shown after create and rotate: the secrets stay encrypted unless a change needs them.
    queryset = WebhookEndpoint.objects.select_related("owner").defer("secret", "previous_secret")
    serializer_class = EndpointSerializer
    permission_classes = [ModelPermissions]
    filterset_fields = ("is_active",)
    search_fields = ("url", "description")
    ordering_fields = ("created_at", "updated_at", "url")
    ordering = ("created_at", "id")
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_permissions = {
        "rotate_secret": ["events.change_webhookendpoint"],
        "enable": ["events.change_webhookendpoint"],
        "disable": ["events.change_webhookendpoint"],
        "deliveries": ["events.view_webhookendpoint", "events.view_delivery"],
    }

    def get_queryset(self):
        queryset = super().get_queryset()
        if endpoint_services.sees_every_endpoint(self.request.user):
            return queryset
        return queryset.filter(owner=self.request.user)

    @extend_schema(request=EndpointSerializer, responses={201: EndpointCreatedSerializer})
    def create(self, request, *args, **kwargs):
        data = _payload(EndpointSerializer, request)
        endpoint = endpoint_services.endpoint_create(owner=request.user, **data)
        return Response(EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        serializer.instance = endpoint_services.endpoint_update(
            endpoint=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        endpoint_services.endpoint_delete(endpoint=instance)

    @extend_schema(request=RotateSecretInputSerializer, responses=RotatedSecretSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """A new signing secret, answered once. The old one also signs for 24 hours unless ``expire_previous``."""
        data = _payload(RotateSecretInputSerializer, request)
        endpoint = endpoint_services.endpoint_rotate_secret(
            endpoint=self.get_object(), expire_previous=data["expire_previous"]
        )
        return Response(RotatedSecretSerializer(endpoint).data)

    @extend_schema(request=None, responses=EndpointSerializer)
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        """Deliver again: the failure count starts over and deliveries left pending are sent."""
        return Response(self.get_serializer(endpoint_services.endpoint_enable(endpoint=self.get_object())).data)

    @extend_schema(request=None, responses=EndpointSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        """Stop delivering; pending deliveries wait until the endpoint is enabled."""
        return Response(self.get_serializer(endpoint_services.endpoint_disable(endpoint=self.get_object())).data)

    @extend_schema(responses=DeliverySerializer(many=True), parameters=DELIVERY_FILTER_PARAMS)
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        """The endpoint's deliveries, newest first, each with its attempts (``?status=failed``)."""
        endpoint = self.get_object()
        filterset = DeliveryFilter(request.query_params, queryset=_deliveries().filter(endpoint=endpoint))
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class DeliveryViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One delivery of your endpoints, with its attempts; ``replay/`` sends its event again."""

    queryset = _deliveries()
    serializer_class = DeliverySerializer
    permission_classes = [ModelPermissions]
    action_permissions = {"replay": ["events.view_delivery", "events.change_webhookendpoint"]}

    def get_queryset(self):
        queryset = super().get_queryset()
        if endpoint_services.sees_every_endpoint(self.request.user):
            return queryset
        return queryset.filter(endpoint__owner=self.request.user)

    @extend_schema(request=None, responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        """A new cycle of attempts for this delivery's event, with the same ``webhook-id`` (409 while it is still
        pending, or when the endpoint is disabled)."""
        delivery = endpoint_services.delivery_replay(delivery=self.get_object())
        delivery = get_object_or_404(self.get_queryset(), pk=delivery.pk)
        return Response(self.get_serializer(delivery).data, status=status.HTTP_202_ACCEPTED)
