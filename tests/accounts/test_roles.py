"""The permission matrix: each role against representative endpoints of every app.
401 for anonymous callers, 403 for a role without the permission; 200/400 mean the
permission check passed (400: the empty body was then refused by validation)."""

import re

import pytest
from django.contrib.auth.models import Group, Permission

from accounts import roles

pytestmark = pytest.mark.django_db

ROLES = [roles.SALES_AGENT, roles.DISPATCHER, roles.REGISTRY_OPERATOR, roles.MEMBER, roles.MANAGER, roles.ADMIN]

#                                              Sales  Disp  RegOp Member Mgr  Admin
MATRIX = {
    ("get", "/api/v1/loads/"): (200, 200, 403, 403, 200, 200),
    ("post", "/api/v1/loads/"): (403, 403, 403, 403, 400, 400),
    ("get", "/api/v1/carriers/"): (200, 200, 403, 403, 200, 200),
    ("post", "/api/v1/carriers/"): (403, 403, 403, 403, 400, 400),
    ("get", "/api/v1/calls/"): (200, 403, 403, 403, 200, 200),
    ("post", "/api/v1/calls/"): (400, 403, 403, 403, 400, 400),
    ("get", "/api/v1/registry/services/"): (403, 403, 200, 403, 200, 200),
    ("post", "/api/v1/registry/services/"): (403, 403, 400, 403, 400, 400),
    ("post", "/api/v1/registry/heartbeat/"): (403, 403, 400, 403, 400, 400),
    ("get", "/api/v1/auth/me/"): (200, 200, 200, 200, 200, 200),
    # Every role reads some event type, so every role may own webhook endpoints (400: no url given).
    ("get", "/api/v1/webhooks/endpoints/"): (200, 200, 200, 200, 200, 200),
    ("post", "/api/v1/webhooks/endpoints/"): (400, 400, 400, 400, 400, 400),
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


# --- The roles table (README "Roles"), written out: per role, exactly these permissions. ---
COMMUNITY_READ = {
    f"community.view_{m}"
    for m in (
        "post",
        "reply",
        "vote",
        "report",
        "subscription",
        "notification",
        "notificationpreference",
        "usecase",
        "tag",
        "usecasedetail",
    )
}
FORUM_WRITE = {
    f"community.{verb}_{m}"
    for verb in ("add", "change")
    for m in ("post", "reply", "vote", "report", "subscription", "notification", "notificationpreference", "usecase")
}
LOGISTICS_MODELS = (
    "costmodel",
    "customer",
    "decision",
    "hub",
    "operationaloutcome",
    "order",
    "route",
    "routestop",
    "vehicle",
    "vehicletyperate",
)
REGISTRY_MODELS = ("dependency", "service", "tag")
OWN_WEBHOOKS = {f"events.{verb}_webhookendpoint" for verb in ("add", "change", "delete", "view")} | {
    "events.view_delivery",
    "events.view_deliveryattempt",
}


def _crud(app, models):
    return {f"{app}.{verb}_{m}" for verb in ("add", "change", "delete", "view") for m in models}


EXPECTED_PERMISSIONS = {
    roles.SALES_AGENT: {
        "carriers.view_carrier",
        "carriers.verify_carrier",
        "carriers.view_load",
        "carriers.view_negotiation",
        "carriers.view_offer",
        "carriers.add_offer",
        "carriers.view_call",
        "carriers.add_call",
        "carriers.view_followup",
        "carriers.add_followup",
        "carriers.change_followup",
    }
    | COMMUNITY_READ
    | OWN_WEBHOOKS,
    roles.DISPATCHER: _crud("logistics", LOGISTICS_MODELS)
    | {f"logistics.view_historical{m}" for m in LOGISTICS_MODELS}
    | {"logistics.commit_decision", "logistics.operate_route", "carriers.view_carrier", "carriers.view_load"}
    | COMMUNITY_READ
    | OWN_WEBHOOKS,
    roles.REGISTRY_OPERATOR: _crud("registry", REGISTRY_MODELS)
    | {f"registry.view_historical{m}" for m in REGISTRY_MODELS}
    | {"registry.report_service_status"}
    | COMMUNITY_READ
    | OWN_WEBHOOKS,
    roles.MEMBER: COMMUNITY_READ | FORUM_WRITE | OWN_WEBHOOKS,
}


def _held(role):
    return {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=role).permissions.values_list("content_type__app_label", "codename")
    }


@pytest.mark.parametrize("role", list(EXPECTED_PERMISSIONS))
def test_role_holds_exactly_its_permissions(role):
    assert _held(role) == EXPECTED_PERMISSIONS[role]


def test_manager_holds_the_domain_apps_but_never_writes_history_and_no_user_admin():
    held = _held(roles.MANAGER)
    domain = {
        f"{app}.{codename}"
        for app, codename in Permission.objects.filter(content_type__app_label__in=roles.DOMAIN_APPS).values_list(
            "content_type__app_label", "codename"
        )
    }
    history_writes = {label for label in domain if re.match(r"^\w+\.(add|change|delete)_historical", label)}
    extra = {"core.view_runtimesetting", "core.change_runtimesetting", "core.add_runtimesetting", "accounts.view_user"}
    assert held == (domain - history_writes) | extra | OWN_WEBHOOKS


MEMBER_REFUSED = [
    "/api/v1/loads/",
    "/api/v1/carriers/",
    "/api/v1/calls/",
    "/api/v1/negotiations/",
    "/api/v1/follow-ups/",
    "/api/v1/lanes/rates/",
    "/api/v1/metrics/carrier-sales/",
    "/api/v1/logistics/customers/",
    "/api/v1/logistics/orders/",
    "/api/v1/registry/services/",
]


@pytest.mark.parametrize("url", MEMBER_REFUSED)
def test_forum_members_read_nothing_of_the_desk_dispatch_or_registry(make_client, url):
    assert make_client(roles.MEMBER).get(url).status_code == 403


@pytest.mark.parametrize("url", ["/api/v1/calls/", "/api/v1/negotiations/", "/api/v1/metrics/carrier-sales/"])
def test_dispatchers_do_not_read_the_desks_calls_rates_or_metrics(make_client, url):
    assert make_client(roles.DISPATCHER).get(url).status_code == 403
