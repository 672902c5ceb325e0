from django.urls import include, path
from rest_framework.routers import DefaultRouter

from .api import WidgetViewSet


class WidgetByNameViewSet(WidgetViewSet):
    lookup_field = "name"


router = DefaultRouter()
router.register("widgets", WidgetByNameViewSet)

urlpatterns = [path("api/v1/test/", include(router.urls)), path("", include("config.urls"))]
