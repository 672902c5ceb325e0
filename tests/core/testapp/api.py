from django.urls import include, path
from rest_framework.routers import DefaultRouter

from core.api.serializers import BaseModelSerializer
from core.api.viewsets import BaseModelViewSet

from .models import Widget


class WidgetSerializer(BaseModelSerializer):
    class Meta:
        model = Widget
        fields = ("id", "name", "size", "version", "created_by", "updated_by", "deleted_at")
        read_only_fields = ("deleted_at",)


class WidgetViewSet(BaseModelViewSet):
    queryset = Widget.all_objects.all()
    serializer_class = WidgetSerializer
    filterset_fields = ("name",)


router = DefaultRouter()
router.register("widgets", WidgetViewSet)

urlpatterns = [path("api/v1/test/", include(router.urls)), path("", include("config.urls"))]
