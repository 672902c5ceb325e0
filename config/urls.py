from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from core import views as core_views
from core.metrics import metrics_view

admin.site.site_header = "Freight & Fleet Operations"
admin.site.site_title = "Freight & Fleet Operations admin"

# DRF's sign-in and sign-out for the browsable API (rest_framework.urls). Production leaves the sign-in
# page out, one password form fewer to guard; sessions from /sign-in/ or /admin/ use the browsable API.
browsable_api_auth = [path("logout/", auth_views.LogoutView.as_view(), name="logout")]
if settings.API_BROWSABLE_LOGIN:
    browsable_api_auth.append(
        path("login/", auth_views.LoginView.as_view(template_name="rest_framework/login.html"), name="login")
    )

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_router")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file, so the page needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    # ReDoc searches in a Web Worker that its own bundle starts from a blob: URL.
    path(
        "api/redoc/",
        csp_update({"worker-src": ["'self'", "blob:"]})(SpectacularRedocView.as_view(url_name="schema")),
        name="redoc",
    ),
    path("api-auth/", include((browsable_api_auth, "rest_framework"))),
    path("health/live/", core_views.live, name="health-live"),
    path("health/ready/", core_views.ready, name="health-ready"),
    path("metrics", metrics_view, name="metrics"),
    path("sign-in/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("sign-out/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("", include("dashboard.urls")),
]

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
