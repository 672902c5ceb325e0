"""The dashboard's areas: one page each, one tile on the overview, one entry in the menu.

A page module registers its area with ``register(Area(...))``. Who sees an area follows the
roles in ``accounts.roles``: the roles the area names, plus Managers and Admins (and
superusers), and only while the user also holds the permissions the matching API endpoints
ask for, so a page never shows what the API would refuse.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from accounts import roles

SEES_EVERYTHING = (roles.ADMIN, roles.MANAGER)


@dataclass(frozen=True)
class Area:
    key: str
    title: str
    url_name: str
    roles: tuple[str, ...]
    permissions: tuple[str, ...]
    # ``tile(request)`` → the overview tile's context: {"figures": [(label, value), ...], ...}
    tile: Callable[..., dict]
    description: str = ""
    order: int = 100
    # The event types (events.types) that change the area's figures: its tile and board refresh when one is
    # published (static/dashboard/live.js, over the event stream) instead of polling.
    live_types: tuple[str, ...] = ()


_areas: dict[str, Area] = {}


def register(area: Area) -> Area:
    _areas[area.key] = area
    return area


def get(key: str) -> Area | None:
    return _areas.get(key)


def all_areas() -> list[Area]:
    return sorted(_areas.values(), key=lambda area: (area.order, area.key))


def user_roles(request) -> frozenset[str]:
    """The signed-in user's role names, read once per request."""
    cached = getattr(request, "_dashboard_roles", None)
    if cached is None:
        user = request.user
        cached = frozenset(user.groups.values_list("name", flat=True)) if user.is_authenticated else frozenset()
        request._dashboard_roles = cached
    return cached


def can_see(request, area: Area) -> bool:
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return False
    in_audience = user.is_superuser or bool(user_roles(request) & {*SEES_EVERYTHING, *area.roles})
    return in_audience and user.has_perms(area.permissions)


def visible_areas(request) -> list[Area]:
    return [area for area in all_areas() if can_see(request, area)]


def require(request, key: str) -> Area:
    area = get(key)
    if area is None or not can_see(request, area):
        raise PermissionDenied(f"This page is not part of your role ({key}).")
    return area
