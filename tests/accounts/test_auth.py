from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"
ME = "/api/v1/auth/me/"
PASSWORD = "correct horse battery staple"


def _login(client, username="agent", password=PASSWORD):
    return client.post(LOGIN, {"username": username, "password": password})


def test_login_returns_a_token_expiry_and_user(api_client):
    UserFactory(username="agent", roles=["Sales agent"])
    response = _login(api_client)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expiry", "user"}
    assert body["user"]["username"] == "agent" and body["user"]["roles"] == ["Sales agent"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert api_client.get(ME).json()["username"] == "agent"


@pytest.mark.parametrize(("username", "password"), [("agent", "wrong"), ("nobody", PASSWORD)])
def test_wrong_credentials_get_one_message_that_does_not_say_which_part(api_client, username, password):
    UserFactory(username="agent")
    response = _login(api_client, username, password)
    assert response.status_code == 400
    assert response.json()["fields"] == {"non_field_errors": ["Unable to sign in with the given credentials."]}


def test_missing_fields_get_field_messages(api_client):
    response = api_client.post(LOGIN, {})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"username", "password"}


def test_inactive_user_cannot_sign_in(api_client):
    UserFactory(username="agent", is_active=False)
    assert _login(api_client).status_code == 400


def test_raw_token_is_stored_nowhere_in_the_database(api_client):
    UserFactory(username="agent")
    token = _login(api_client).json()["token"]
    stored = AuthToken.objects.get()
    assert stored.digest != token and len(stored.digest) == 128
    # Search every text column of the token table for the raw token.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AuthToken._meta.db_table}")
        rows = cursor.fetchall()
    assert rows and all(token not in str(value) for row in rows for value in row)


def test_expired_token_is_refused(api_client):
    user = UserFactory()
    instance, token = AuthToken.objects.create(user=user, expiry=timedelta(hours=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get(ME).status_code == 200
    instance.expiry = timezone.now() - timedelta(seconds=1)  # as an operator would cut it short
    instance.save()
    assert api_client.get(ME).status_code == 401


def test_logout_revokes_only_this_token_and_logoutall_revokes_every_one(api_client):
    user = UserFactory()
    _, first = AuthToken.objects.create(user=user)
    _, second = AuthToken.objects.create(user=user)
    _, third = AuthToken.objects.create(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert api_client.post("/api/v1/auth/logout/").status_code == 204
    assert api_client.get(ME).status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert api_client.get(ME).status_code == 200
    assert api_client.post("/api/v1/auth/logoutall/").status_code == 204
    for token in (second, third):
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api_client.get(ME).status_code == 401


def test_login_attempts_are_throttled(api_client, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, "login": "3/min"}}
    cache.clear()
    UserFactory(username="agent")
    statuses = [_login(api_client, password="wrong").status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    assert _login(api_client).status_code == 429  # even the right password waits
    cache.clear()


def test_anonymous_requests_to_the_api_get_401(api_client):
    assert api_client.get(ME).status_code == 401
    assert api_client.get("/api/v1/").status_code == 401


def test_create_api_token_prints_a_working_token_once():
    UserFactory(username="voice-agent", roles=["Sales agent"])
    out = StringIO()
    call_command("create_api_token", "voice-agent", "--days", "30", stdout=out, stderr=StringIO())
    token = out.getvalue().strip()
    stored = AuthToken.objects.get(user__username="voice-agent")
    assert timedelta(days=29) < stored.expiry - timezone.now() <= timedelta(days=30)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(ME).json()["username"] == "voice-agent"


def test_create_api_token_refuses_unknown_users():
    with pytest.raises(CommandError, match="No user named"):
        call_command("create_api_token", "ghost", stdout=StringIO())
