"""Roles are Django groups holding model permissions, so the admin and the API check
the same thing. Each role lists permission patterns (``app_label.codename`` with
shell-style wildcards); ``sync_roles`` makes the groups hold exactly what matches.

It runs from the data migration that creates the groups and again after every
``migrate``, so permissions of models added later join the roles automatically.
"""

import re
from fnmatch import fnmatchcase

ADMIN = "Admin"
MANAGER = "Manager"
SALES_AGENT = "Sales agent"
DISPATCHER = "Dispatcher"
REGISTRY_OPERATOR = "Registry operator"
MEMBER = "Member"

DOMAIN_APPS = ("carriers", "logistics", "registry", "community")
# The forum models a member works with; history and moderation stay with staff roles.
FORUM_MODELS = ("post", "reply", "vote", "report", "subscription", "notification", "notificationpreference", "usecase")
# Every signed-in role reads the forum; writing there is for members.
_READ_COMMUNITY = [f"community.view_{model}" for model in (*FORUM_MODELS, "tag", "usecasedetail")]

# Webhook endpoints of one's own (events.webhooks): every role reads some event type (every signed-in user the
# forum's), so every role may push the types it reads to endpoints it owns, and read their deliveries. Whose
# endpoints are seen, and which types they may carry, is decided per user (events.endpoint_services).
_OWN_WEBHOOKS = [
    "events.view_webhookendpoint",
    "events.add_webhookendpoint",
    "events.change_webhookendpoint",
    "events.delete_webhookendpoint",
    "events.view_delivery",
    "events.view_deliveryattempt",
]

# Each role holds what its work needs and nothing more; tests/accounts/test_roles.py spells out
# the exact set per role, so a widened pattern fails a test before it reaches anyone.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    ADMIN: ["*"],
    MANAGER: [f"{app}.*" for app in DOMAIN_APPS]
    + ["core.view_runtimesetting", "core.change_runtimesetting", "core.add_runtimesetting", "accounts.view_user"]
    + _OWN_WEBHOOKS,
    SALES_AGENT: [
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
        *_READ_COMMUNITY,
        *_OWN_WEBHOOKS,
    ],
    # Dispatch sees which carriers and loads exist, not the desk's calls, rates or metrics.
    DISPATCHER: ["logistics.*", "carriers.view_carrier", "carriers.view_load", *_READ_COMMUNITY, *_OWN_WEBHOOKS],
    REGISTRY_OPERATOR: ["registry.*", *_READ_COMMUNITY, *_OWN_WEBHOOKS],
    # Outside manufacturers in the peer network: the forum and use cases, nothing of the desk,
    # dispatch or the registry.
    MEMBER: [
        *_READ_COMMUNITY,
        *[f"community.add_{model}" for model in FORUM_MODELS],
        *[f"community.change_{model}" for model in FORUM_MODELS],
        *_OWN_WEBHOOKS,
    ],
}

# Never handed out by a role pattern other than Admin's: they reveal what sales agents must not see.
RESTRICTED_FOR_NON_MANAGERS = ("carriers.view_load_ceiling",)
# Change history is written by the system only; no role but Admin may add, change or delete it.
_HISTORY_WRITE = re.compile(r"^[a-z_]+\.(add|change|delete)_historical")


def _matches(label: str, role: str) -> bool:
    if role not in (ADMIN, MANAGER) and label in RESTRICTED_FOR_NON_MANAGERS:
        return False
    if role != ADMIN and _HISTORY_WRITE.match(label):
        return False
    return any(fnmatchcase(label, pattern) for pattern in ROLE_PERMISSIONS[role])


def sync_roles(group_model=None, permission_model=None):
    if group_model is None:
        from django.contrib.auth.models import Group as group_model
        from django.contrib.auth.models import Permission as permission_model

    permissions = list(permission_model.objects.select_related("content_type"))
    labels = {perm.pk: f"{perm.content_type.app_label}.{perm.codename}" for perm in permissions}
    for role in ROLE_PERMISSIONS:
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = [perm for perm in permissions if _matches(labels[perm.pk], role)]
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender, app_config=None, using=None, apps=None, **kwargs):
    # post_migrate fires once per app; permissions of every app exist after the last one.
    from django.apps import apps as global_apps

    with_models = [config for config in global_apps.get_app_configs() if config.models_module is not None]
    if sender is not with_models[-1]:
        return
    sync_roles()
