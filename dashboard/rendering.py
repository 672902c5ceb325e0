"""What every dashboard page shares: the menu for the user's roles, and answering htmx
requests with just the part of the page that changes."""

from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from . import areas


def wants_fragment(request) -> bool:
    """An htmx request for part of a page; history restores and boosted links get the whole page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request and not htmx.boosted


def render_page(request, *, template: str, fragment: str, context: dict, area=None, status: int = 200):
    if wants_fragment(request):
        response = render(request, fragment, context, status=status)
    else:
        context = {**context, "nav_areas": areas.visible_areas(request), "current_area": area}
        response = render(request, template, context, status=status)
    # The same URL answers with a fragment or a page depending on this header.
    patch_vary_headers(response, ["HX-Request"])
    return response
