"""The permission matrix: each role against representative endpoints of every app.
401 for anonymous callers, 403 for a role without the permission; 200/400 mean the
permission check passed (400: the empty body was then refused by validation)."""

import pytest
from django.contrib.auth.models import Group, Permission

from accounts import roles

pytestmark = pytest.mark.django_db

ROLES = [roles.SALES_AGENT, roles.DISPATCHER, roles.REGISTRY_OPERATOR, roles.MEMBER, roles.MANAGER, roles.ADMIN]

#                                              Sales  Disp  RegOp Member Mgr  Admin
MATRIX = {
    ("get", "/api/v1/loads/"): (200, 200, 403, 200, 200, 200),
    ("post", "/api/v1/loads/"): (403, 403, 403, 403, 400, 400),
    ("get", "/api/v1/carriers/"): (200, 200, 403, 200, 200, 200),
    ("post", "/api/v1/carriers/"): (403, 403, 403, 403, 400, 400),
    ("get", "/api/v1/calls/"): (200, 200, 403, 200, 200, 200),
    ("post", "/api/v1/calls/"): (400, 403, 403, 403, 400, 400),
    ("get", "/api/v1/registry/services/"): (403, 403, 200, 200, 200, 200),
    ("post", "/api/v1/registry/services/"): (403, 403, 400, 403, 400, 400),
    ("post", "/api/v1/registry/heartbeat/"): (403, 403, 400, 403, 400, 400),
    ("get", "/api/v1/auth/me/"): (200, 200, 200, 200, 200, 200),
}


def test_every_role_is_a_group():
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLE_PERMISSIONS)


def test_admin_role_holds_every_permission():
    assert Group.objects.get(name=roles.ADMIN).permissions.count() == Permission.objects.count()


def test_only_managers_and_admins_may_see_the_ceiling_rate():
    holders = set(
        Group.objects.filter(
            permissions__codename="view_load_ceiling", permissions__content_type__app_label="carriers"
        ).values_list("name", flat=True)
    )
    assert holders == {roles.ADMIN, roles.MANAGER}


@pytest.mark.parametrize(("method", "url"), list(MATRIX))
def test_anonymous_callers_get_401(api_client, method, url):
    assert getattr(api_client, method)(url, {}).status_code == 401


@pytest.mark.parametrize(("method", "url"), list(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(make_client, role, method, url):
    expected = MATRIX[(method, url)][ROLES.index(role)]
    response = getattr(make_client(role), method)(url, {})
    assert response.status_code == expected, (role, method, url, response.content[:300])
