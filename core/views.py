from django.http import JsonResponse
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
    """Ready to serve: database reachable, cache working, migrations applied."""
    healthy, checks = health.run_checks()
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    if not healthy:
        body["failing"] = [name for name, result in checks.items() if result["status"] != "ok"]
    return JsonResponse(body, status=200 if healthy else 503)
