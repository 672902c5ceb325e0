"""A known API token is answered from the cache (no query for the token, the user or their
permissions), and every change that matters takes effect on the very next request."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import roles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOADS = "/api/v1/loads/"


@pytest.fixture(autouse=True)
def _empty_cache(settings):
    settings.API_AUTH_CACHE_SECONDS = 60  # as deployed (the test settings switch it off)
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def agent():
    user = UserFactory(roles=[roles.SALES_AGENT])
    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    client.user = user
    return client


def test_a_known_token_costs_no_query(agent, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as first:
        assert agent.get(LOADS).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert agent.get(LOADS).status_code == 200
    # Token + user, the purge of the user's expired tokens, and two permission queries.
    assert len(first) - len(second) == 4
    assert not any("knox_authtoken" in q["sql"] or "auth_permission" in q["sql"] for q in second.captured_queries)


def test_logout_is_refused_at_once(agent):
    assert agent.get(LOADS).status_code == 200
    assert agent.post("/api/v1/auth/logout/").status_code == 204
    assert agent.get(LOADS).status_code == 401


def test_losing_a_role_is_felt_at_once(agent):
    assert agent.get(LOADS).status_code == 200
    agent.user.groups.clear()
    assert agent.get(LOADS).status_code == 403


def test_a_group_losing_a_permission_is_felt_at_once(agent):
    assert agent.get(LOADS).status_code == 200
    Group.objects.get(name=roles.SALES_AGENT).permissions.remove(Permission.objects.get(codename="view_load"))
    assert agent.get(LOADS).status_code == 403


def test_gaining_a_role_is_felt_at_once(agent):
    assert agent.get("/api/v1/registry/services/").status_code == 403
    agent.user.groups.add(Group.objects.get(name=roles.REGISTRY_OPERATOR))
    assert agent.get("/api/v1/registry/services/").status_code == 200


def test_a_deactivated_user_is_refused_at_once(agent):
    assert agent.get(LOADS).status_code == 200
    agent.user.is_active = False
    agent.user.save()
    assert agent.get(LOADS).status_code == 401


def test_an_expired_token_is_refused_even_when_cached(agent, monkeypatch):
    assert agent.get(LOADS).status_code == 200
    later = timezone.now() + timedelta(days=365)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    assert agent.get(LOADS).status_code == 401
