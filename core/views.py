import sys

from django.http import JsonResponse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health


@never_cache
@require_GET
def live(request):
    """The process answers; touches no database."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request):
    """Ready to serve: database reachable, migrations applied. A part the app serves without (the
    cache, a read replica) may be degraded: still 200, with ``status: degraded`` naming it."""
    healthy, checks = health.run_checks()
    not_ok = [name for name, result in checks.items() if result["status"] != "ok"]
    if not healthy:
        body = {"status": "unavailable", "checks": checks, "failing": not_ok}
    elif not_ok:
        body = {"status": "degraded", "checks": checks, "degraded": not_ok}
    else:
        body = {"status": "ok", "checks": checks}
    return JsonResponse(body, status=200 if healthy else 503)


def _api_error_or(default_view, status, code, detail):
    """API clients get the API's error body for errors raised outside DRF (unknown URLs,
    server errors); browser pages keep Django's templates."""

    def view(request, exception=None, **kwargs):
        if request.path.startswith("/api/"):
            return JsonResponse({"status": status, "code": code, "detail": detail}, status=status)
        if exception is not None:
            return default_view(request, exception, **kwargs)
        return default_view(request, **kwargs)

    return view


bad_request = _api_error_or(defaults.bad_request, 400, "bad_request", "Bad request.")
permission_denied = _api_error_or(defaults.permission_denied, 403, "permission_denied", "Permission denied.")
page_not_found = _api_error_or(defaults.page_not_found, 404, "not_found", "Not found.")
_server_error = _api_error_or(defaults.server_error, 500, "server_error", "Internal server error.")


def server_error(request, *args, **kwargs):
    """An unreachable database fails outside DRF too (sessions, the admin, middleware):
    answer 503 with the API's error body there as well, so clients retry instead of
    reporting a bug. Django calls this handler while the exception is being handled."""
    from core.api.exceptions import DATABASE_RETRY_AFTER_SECONDS, DatabaseUnavailable, is_database_unavailable

    if is_database_unavailable(sys.exc_info()[1]):
        body = {
            "status": 503,
            "code": DatabaseUnavailable.default_code,
            "detail": str(DatabaseUnavailable.default_detail),
        }
        response = JsonResponse(body, status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    return _server_error(request, *args, **kwargs)
