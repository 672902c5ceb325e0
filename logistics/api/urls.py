from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import (
    CostModelHistoryView,
    CostModelView,
    CustomerViewSet,
    DecisionViewSet,
    HubViewSet,
    MetricsView,
    OrderViewSet,
    OutcomeViewSet,
    RouteViewSet,
    VehicleViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.register("hubs", HubViewSet, basename="logistics-hub")
router.register("customers", CustomerViewSet, basename="logistics-customer")
router.register("orders", OrderViewSet, basename="logistics-order")
router.register("vehicles", VehicleViewSet, basename="logistics-vehicle")
router.register("routes", RouteViewSet, basename="logistics-route")
router.register("decisions", DecisionViewSet, basename="logistics-decision")
router.register("outcomes", OutcomeViewSet, basename="logistics-outcome")

urlpatterns = [
    path("cost-model/", CostModelView.as_view(), name="logistics-cost-model"),
    path("cost-model/history/", CostModelHistoryView.as_view(), name="logistics-cost-model-history"),
    path("metrics/", MetricsView.as_view(), name="logistics-app-metrics"),
    *router.urls,
]
