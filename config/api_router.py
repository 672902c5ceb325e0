"""Everything under /api/v1/. Each app owns its routes in ``<app>/api/urls.py``."""

from django.urls import include, path
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse

from logistics.api.views import MetricsView as LogisticsMetricsView

app_name = "api"


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def api_root(request, format=None):
    """Entry points of the API."""
    return Response(
        {
            "auth": reverse("api:me", request=request, format=format),
            "schema": reverse("schema", request=request, format=format),
            "docs": reverse("swagger-ui", request=request, format=format),
        }
    )


urlpatterns = [
    path("", api_root, name="root"),
    # First: the events server resolves nothing else, and its long polls ask again in bursts. Django notes every
    # pattern a path failed to match on the way, and carriers' routes (no prefix) are many.
    path("", include("events.api.urls")),
    path("auth/", include("accounts.api.urls")),
    path("", include("carriers.api.urls")),
    path("logistics/", include("logistics.api.urls")),
    path("metrics/logistics/", LogisticsMetricsView.as_view(), name="logistics-metrics"),
    path("registry/", include("registry.api.urls")),
    path("community/", include("community.api.urls")),
]
