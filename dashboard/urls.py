from django.urls import path

from . import views
from .pages import registry, sales

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("dashboard/tiles/<slug:key>/", views.tile, name="tile"),
    path("dashboard/sales/", sales.sales_page, name="sales"),
    path("dashboard/registry/", registry.registry_page, name="registry"),
    path(
        "dashboard/registry/services/<str:name>/",
        registry.service_page,
        name="registry-service",
    ),
]
