"""``OPTIONS`` on every route the schema publishes, custom actions included, answers without a 5xx."""

import re

import pytest
from rest_framework.test import APIClient

from accounts import roles

pytestmark = pytest.mark.django_db

# Path parameters filled with a key that names no row: OPTIONS describes the route, not an object.
PARAMETER = re.compile(r"\{[^}]+\}")


@pytest.fixture(scope="module")
def schema_paths(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return sorted(response.json()["paths"])


def test_options_on_every_published_route_is_never_a_server_error(schema_paths, make_client):
    client = make_client(roles.ADMIN)
    answers = {
        path: client.options(PARAMETER.sub("00000000-0000-0000-0000-000000000000", path)) for path in schema_paths
    }
    failures = {path: response.status_code for path, response in answers.items() if response.status_code >= 500}
    assert not failures
    preferences = answers["/api/v1/community/notifications/preferences/"]
    assert preferences.status_code == 200
    assert "PUT" in preferences.json()["actions"]
