from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import (
    CallViewSet,
    CarrierSalesMetricsView,
    CarrierViewSet,
    FollowUpViewSet,
    LaneRatesView,
    LoadViewSet,
    NegotiationViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("carriers", CarrierViewSet, basename="carrier")
router.register("loads", LoadViewSet, basename="load")
router.register("calls", CallViewSet, basename="call")
router.register("negotiations", NegotiationViewSet, basename="negotiation")
router.register("follow-ups", FollowUpViewSet, basename="follow-up")

urlpatterns = [
    path("metrics/carrier-sales/", CarrierSalesMetricsView.as_view(), name="carrier-sales-metrics"),
    path("lanes/rates/", LaneRatesView.as_view(), name="lane-rates"),
    *router.urls,
]
