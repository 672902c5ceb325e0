import re

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts import roles
from tests.carriers.factories import CallFactory
from tests.factories import UserFactory
from tests.registry.factories import ServiceFactory

from .conftest import (
    PASSWORD,
    add_community_rows,
    add_dispatch_rows,
    make_community_data,
    make_dispatch_data,
    make_registry_data,
    make_sales_data,
    metrics_on_page,
)

pytestmark = pytest.mark.django_db

PAGES = {
    "sales": "/dashboard/sales/",
    "dispatch": "/dashboard/dispatch/",
    "registry": "/dashboard/registry/",
    "community": "/dashboard/community/",
}
EVERY_AREA = set(PAGES)
# Session, user, roles, permissions (2), sales (7), dispatch (6), registry (1), community (7).
OVERVIEW_QUERIES = 26


def nav_links(html):
    nav = re.search(r'<nav class="site-nav".*?</nav>', html, re.S).group(0)
    return re.findall(r'<a href="([^"]+)"', nav)


@pytest.mark.parametrize("url", ["/", *PAGES.values(), "/dashboard/registry/services/db/", "/dashboard/tiles/sales/"])
def test_every_page_asks_an_anonymous_visitor_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_sign_in_page_signs_in_and_goes_to_the_overview(client):
    UserFactory(username="dana", roles=[roles.MANAGER])
    page = client.get("/sign-in/")
    assert page.status_code == 200
    assert b'name="username"' in page.content and b'name="password"' in page.content

    wrong = client.post("/sign-in/", {"username": "dana", "password": "nope"})
    assert wrong.status_code == 200 and b"Please enter a correct username and password" in wrong.content

    response = client.post("/sign-in/", {"username": "dana", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_sign_in_returns_to_the_page_asked_for(client):
    UserFactory(username="sam", roles=[roles.SALES_AGENT])
    response = client.post("/sign-in/", {"username": "sam", "password": PASSWORD, "next": "/dashboard/sales/"})
    assert response["Location"] == "/dashboard/sales/"


def test_sign_out_ends_the_session(signed_in):
    client = signed_in(roles.MANAGER)
    assert client.get("/sign-out/").status_code == 405  # a link cannot sign anyone out
    response = client.post("/sign-out/")
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (roles.ADMIN, EVERY_AREA),
        (roles.MANAGER, EVERY_AREA),
        (roles.SALES_AGENT, {"sales"}),
        (roles.REGISTRY_OPERATOR, {"registry"}),
        (roles.DISPATCHER, {"dispatch"}),
        (roles.MEMBER, {"community"}),
        (None, set()),
    ],
)
def test_each_role_sees_its_own_pages(signed_in, registry_data, role, allowed):
    client = signed_in(*([role] if role else []))
    overview = client.get("/")
    assert overview.status_code == 200
    html = overview.content.decode()
    assert set(nav_links(html)) - {"/"} == {PAGES[key] for key in allowed}
    assert {key for key in PAGES if f'id="tile-{key}"' in html} == allowed
    if not allowed:
        assert "no dashboard pages yet" in html
    for key, url in PAGES.items():
        assert client.get(url).status_code == (200 if key in allowed else 403), (role, key)
    graph = client.get("/dashboard/registry/services/db/")
    assert graph.status_code == (200 if "registry" in allowed else 403)


def test_a_superuser_sees_everything(signed_in):
    client = signed_in(is_superuser=True, is_staff=True)
    for url in PAGES.values():
        assert client.get(url).status_code == 200, url


def test_a_role_without_the_api_permission_is_refused(signed_in, settings):
    """The page never shows what the API would refuse: the role alone is not enough."""
    Group.objects.get(name=roles.SALES_AGENT).permissions.clear()
    client = signed_in(roles.SALES_AGENT)
    assert client.get("/dashboard/sales/").status_code == 403
    assert client.get("/api/v1/metrics/carrier-sales/").status_code == 403


def test_a_member_neither_reads_dispatch_nor_opens_its_page(signed_in):
    """Members work in the forum: dispatch records and the dispatch page are not part of their role."""
    client = signed_in(roles.MEMBER)
    assert not client.user.has_perm("logistics.view_order") and not client.user.has_perm("logistics.view_route")
    assert client.get("/dashboard/dispatch/").status_code == 403
    assert client.get("/dashboard/tiles/dispatch/", HTTP_HX_REQUEST="true").status_code == 403


def test_dispatcher_and_community_pages_need_their_api_permissions(signed_in):
    Group.objects.get(name=roles.DISPATCHER).permissions.clear()
    Group.objects.get(name=roles.MEMBER).permissions.clear()
    assert signed_in(roles.DISPATCHER).get("/dashboard/dispatch/").status_code == 403
    assert signed_in(roles.MEMBER).get("/dashboard/community/").status_code == 403


def test_refusal_page_points_back_to_the_overview(signed_in):
    response = signed_in(roles.SALES_AGENT).get("/dashboard/registry/")
    assert response.status_code == 403
    assert b"Not for your role" in response.content and b'href="/"' in response.content


def test_admin_links_only_for_staff(signed_in, sales_data):
    assert b'href="/admin/"' not in signed_in(roles.MANAGER).get("/dashboard/sales/").content
    staff = signed_in(roles.MANAGER, is_staff=True).get("/dashboard/sales/").content
    assert b'href="/admin/"' in staff and b'href="/admin/carriers/call/"' in staff


def test_tile_refresh_answers_htmx_with_the_tile_and_plain_requests_with_the_overview(signed_in, sales_data):
    client = signed_in(roles.SALES_AGENT)
    tile = client.get("/dashboard/tiles/sales/", HTTP_HX_REQUEST="true")
    assert tile.status_code == 200
    assert tile.content.lstrip().startswith(b'<section class="tile')
    assert "HX-Request" in tile["Vary"]
    assert client.get("/dashboard/tiles/sales/")["Location"] == "/"
    assert client.get("/dashboard/tiles/registry/", HTTP_HX_REQUEST="true").status_code == 403
    assert client.get("/dashboard/tiles/nothing/", HTTP_HX_REQUEST="true").status_code == 404


@pytest.mark.parametrize(
    ("role", "key", "figures"),
    [
        (roles.DISPATCHER, "dispatch", {"routes_today": "2", "pending": "2", "utilisation_now": "66.7%"}),
        (roles.MEMBER, "community", {"posts": "3", "replies": "2", "unanswered": "2"}),
        (roles.MANAGER, "community", {"posts": "3", "unanswered": "2", "open_reports": "2"}),
    ],
)
def test_dispatch_and_community_tiles(signed_in, dispatch_data, community_data, role, key, figures):
    client = signed_in(role)
    tile = client.get(f"/dashboard/tiles/{key}/", HTTP_HX_REQUEST="true")
    assert tile.status_code == 200
    html = tile.content.decode()
    assert html.lstrip().startswith('<section class="tile') and f'id="tile-{key}"' in html
    shown = metrics_on_page(html)
    assert {name: shown.get(name) for name in figures} == figures
    if role == roles.MEMBER:
        assert "open_reports" not in shown  # the report queue is for moderators


def test_overview_takes_the_same_number_of_queries_whatever_the_data(signed_in, django_assert_num_queries):
    client = signed_in(roles.MANAGER)
    make_sales_data()
    make_registry_data()
    dispatch = make_dispatch_data()
    make_community_data()
    client.get("/")  # warms the session and the runtime settings cache
    with django_assert_num_queries(OVERVIEW_QUERIES):
        client.get("/")
    for n in range(20):
        ServiceFactory(name=f"more-{n}")
        CallFactory(external_id=f"more-{n}")
    add_dispatch_rows(dispatch, routes=5)
    add_community_rows(members=5)
    with django_assert_num_queries(OVERVIEW_QUERIES):
        client.get("/")
