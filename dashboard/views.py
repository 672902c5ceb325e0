from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from . import areas
from .rendering import wants_fragment


def _tile(request, area) -> dict:
    return {"area": area, "url": reverse(area.url_name), **area.tile(request)}


@require_GET
@login_required
def overview(request):
    """One tile per area the user's roles reach, with its headline numbers."""
    visible = areas.visible_areas(request)
    tiles = [_tile(request, area) for area in visible]
    return render(
        request,
        "dashboard/overview.html",
        {"tiles": tiles, "nav_areas": visible, "current_area": None},
    )


@require_GET
@login_required
def tile(request, key):
    """One overview tile, for refreshing it in place."""
    area = areas.get(key)
    if area is None:
        raise Http404("No such area.")
    area = areas.require(request, key)
    if not wants_fragment(request):
        return redirect("dashboard:overview")
    response = render(request, "dashboard/includes/tile.html", {"tile": _tile(request, area)})
    patch_vary_headers(response, ["HX-Request"])
    return response
