import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import roles
from tests.factories import UserFactory


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Browser tests last. Their live server and browser live until the session ends (their threads
    would make ``import_loads`` refuse to fork), and the live server empties the database when it
    stops (data migrations' rows gone for the tests after). pytest may otherwise pull them forward
    while grouping session-scoped parameters."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


PASSWORD = "correct horse battery staple"


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def make_client(db):
    """``make_client(role)`` → an APIClient signed in with a real API token for a new user
    holding that role (``None`` for a user with no role). The user is ``client.user``."""

    def _make(role=None, **user_fields):
        user = UserFactory(roles=[role] if role else [], **user_fields)
        _, token = AuthToken.objects.create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        client.user = user
        return client

    return _make


@pytest.fixture
def admin_client_api(make_client):
    return make_client(roles.ADMIN)


@pytest.fixture
def manager_client(make_client):
    return make_client(roles.MANAGER)


@pytest.fixture
def sales_agent_client(make_client):
    return make_client(roles.SALES_AGENT)


@pytest.fixture
def dispatcher_client(make_client):
    return make_client(roles.DISPATCHER)


@pytest.fixture
def registry_operator_client(make_client):
    return make_client(roles.REGISTRY_OPERATOR)


@pytest.fixture
def member_client(make_client):
    return make_client(roles.MEMBER)
