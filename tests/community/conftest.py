import pytest

from accounts import roles

POSTS = "/api/v1/community/posts/"
REPLIES = "/api/v1/community/replies/"
REPORTS = "/api/v1/community/reports/"
SUBSCRIPTIONS = "/api/v1/community/subscriptions/"
NOTIFICATIONS = "/api/v1/community/notifications/"
USE_CASES = "/api/v1/community/use-cases/"


@pytest.fixture
def author(make_client):
    """A member who writes the posts under test."""
    return make_client(roles.MEMBER)


@pytest.fixture
def member(make_client):
    """Another member."""
    return make_client(roles.MEMBER)


@pytest.fixture
def moderator(make_client):
    return make_client(roles.MANAGER)


@pytest.fixture
def outsider(make_client):
    """Signed in, with no role."""
    return make_client(None)
