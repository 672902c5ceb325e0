from django.urls import path

from . import views
from .pages import community, dispatch, registry, sales

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("dashboard/tiles/<slug:key>/", views.tile, name="tile"),
    path("dashboard/sales/", sales.sales_page, name="sales"),
    path("dashboard/dispatch/", dispatch.dispatch_page, name="dispatch"),
    path("dashboard/registry/", registry.registry_page, name="registry"),
    path(
        "dashboard/registry/services/<str:name>/",
        registry.service_page,
        name="registry-service",
    ),
    path("dashboard/community/", community.community_page, name="community"),
]
