from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import HeartbeatView, ServiceViewSet, StatisticsView

router = DefaultRouter(trailing_slash=True)
router.register("services", ServiceViewSet, basename="registry-service")

urlpatterns = [
    path("heartbeat/", HeartbeatView.as_view(), name="registry-heartbeat"),
    path("statistics/", StatisticsView.as_view(), name="registry-statistics"),
    *router.urls,
]
