"""Users see their API tokens (never the raw token again) and revoke them one by one;
administrators do the same for anyone in the admin; a password change, however it is made,
revokes them all."""

from datetime import timedelta
from io import StringIO

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import TokenInfo
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
TOKENS = "/api/v1/auth/tokens/"


def _sign_in(username, client_name=None):
    client = APIClient()
    body = {"username": username, "password": PASSWORD}
    if client_name is not None:
        body["client_name"] = client_name
    response = client.post("/api/v1/auth/login/", body)
    assert response.status_code == 200, response.json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client, response.json()["token"]


@pytest.fixture
def agent():
    return UserFactory(username="agent", password=PASSWORD)


def test_list_shows_own_tokens_with_client_names_and_marks_the_current_one(agent):
    laptop, laptop_token = _sign_in("agent", "Jane's laptop")
    voice, _ = _sign_in("agent", "voice agent")
    UserFactory(username="other", password=PASSWORD)
    _sign_in("other", "someone else")

    response = laptop.get(TOKENS)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert sorted(row["client_name"] for row in rows) == ["Jane's laptop", "voice agent"]
    current = [row for row in rows if row["current"]]
    assert [row["client_name"] for row in current] == ["Jane's laptop"]
    assert set(rows[0]) == {"id", "client_name", "created", "expiry", "last_used", "current"}
    # The raw token appears nowhere in the listing.
    assert laptop_token not in response.content.decode()
    assert laptop_token[:15] not in response.content.decode()


def test_last_used_is_set_by_a_request_made_with_the_token(agent):
    laptop, _ = _sign_in("agent", "laptop")
    _sign_in("agent", "unused")
    rows = {row["client_name"]: row for row in laptop.get(TOKENS).json()["results"]}
    assert rows["laptop"]["last_used"] is not None
    assert rows["unused"]["last_used"] is None


def test_revoking_a_token_signs_that_client_out_only(agent):
    laptop, _ = _sign_in("agent", "laptop")
    voice, _ = _sign_in("agent", "voice")
    voice_id = next(row["id"] for row in laptop.get(TOKENS).json()["results"] if row["client_name"] == "voice")
    assert laptop.delete(f"{TOKENS}{voice_id}/").status_code == 204
    assert voice.get("/api/v1/auth/me/").status_code == 401
    assert laptop.get("/api/v1/auth/me/").status_code == 200
    assert laptop.delete(f"{TOKENS}{voice_id}/").status_code == 404


def test_another_users_token_cannot_be_seen_or_revoked(agent):
    laptop, _ = _sign_in("agent", "laptop")
    UserFactory(username="other", password=PASSWORD)
    other, _ = _sign_in("other", "theirs")
    their_id = other.get(TOKENS).json()["results"][0]["id"]
    assert laptop.get(f"{TOKENS}{their_id}/").status_code == 404
    assert laptop.delete(f"{TOKENS}{their_id}/").status_code == 404
    assert other.get("/api/v1/auth/me/").status_code == 200


def test_expired_tokens_are_not_listed(agent):
    laptop, _ = _sign_in("agent", "laptop")
    instance, _ = AuthToken.objects.create(user=agent)
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert [row["client_name"] for row in laptop.get(TOKENS).json()["results"]] == ["laptop"]


def test_tokens_made_outside_sign_in_get_an_id_too(agent):
    instance, _ = AuthToken.objects.create(user=agent)
    assert TokenInfo.objects.get(token=instance).client_name == ""


def test_client_name_is_optional_and_bounded(agent):
    _sign_in("agent")
    response = APIClient().post(
        "/api/v1/auth/login/", {"username": "agent", "password": PASSWORD, "client_name": "x" * 101}
    )
    assert response.status_code == 400 and "client_name" in response.json()["fields"]


def test_listing_costs_a_fixed_number_of_queries(agent, django_assert_max_num_queries):
    laptop, _ = _sign_in("agent", "laptop")
    for n in range(5):
        _sign_in("agent", f"client {n}")
    laptop.get(TOKENS)
    with django_assert_max_num_queries(4):
        assert len(laptop.get(TOKENS).json()["results"]) == 6


def test_admin_lists_and_revokes_a_users_tokens(agent, admin_client):
    _sign_in("agent", "laptop")
    voice, _ = _sign_in("agent", "voice")
    page = admin_client.get(f"/admin/accounts/user/{agent.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "laptop" in html and "voice" in html
    tokens = list(AuthToken.objects.filter(user=agent).select_related("info").order_by("-created"))
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(
        {
            "groups": [],
            "user_permissions": [],
            "expertise": "[]",
            "date_joined_0": agent.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": agent.date_joined.strftime("%H:%M:%S"),
        }
    )
    prefix = "auth_token_set"
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": str(len(tokens)),
            f"{prefix}-INITIAL_FORMS": str(len(tokens)),
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
        }
    )
    for index, token in enumerate(tokens):
        data[f"{prefix}-{index}-digest"] = token.digest
        data[f"{prefix}-{index}-user"] = str(agent.pk)
        if token.info.client_name == "voice":
            data[f"{prefix}-{index}-DELETE"] = "on"
    response = admin_client.post(f"/admin/accounts/user/{agent.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert list(AuthToken.objects.filter(user=agent).values_list("info__client_name", flat=True)) == ["laptop"]
    assert voice.get("/api/v1/auth/me/").status_code == 401


def test_a_mark_another_worker_wrote_spares_this_one_the_cache_for_a_minute(monkeypatch):
    from types import SimpleNamespace

    from django.core.cache.backends.locmem import LocMemCache

    from accounts import auth

    class CountingCache(LocMemCache):
        reads = 0

        def get(self, *args, **kwargs):
            self.reads += 1
            return super().get(*args, **kwargs)

    shared = CountingCache("last-used", {})
    monkeypatch.setattr(auth, "cache", shared)
    monkeypatch.setattr(auth, "_recorded_here", {})
    token = SimpleNamespace(digest="d1", expiry=None)
    marked = timezone.now() - timedelta(seconds=5)
    shared.set(auth.last_used_key("d1"), marked)  # written by another worker
    for _ in range(5):
        auth.record_use(token)
    assert shared.reads == 1
    assert shared.get(auth.last_used_key("d1")) == marked  # its mark stands, not rewritten


# --- A password change revokes the user's API tokens (accounts.signals) ---------------------

NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture
def signed_in(agent, settings):
    """Two API clients of ``agent`` (a sign-in token and a service token), each used once so that
    its identity sits in the authentication cache."""
    settings.API_AUTH_CACHE_SECONDS = 60
    laptop, _ = _sign_in("agent", "laptop")
    _, service_token = AuthToken.objects.create(user=agent, expiry=timedelta(days=90))
    service = APIClient()
    service.credentials(HTTP_AUTHORIZATION=f"Token {service_token}")
    for client in (laptop, service):
        assert client.get("/api/v1/auth/me/").status_code == 200
    return laptop, service


def _signed_out(*clients):
    return all(client.get("/api/v1/auth/me/").status_code == 401 for client in clients)


def test_changing_the_password_in_the_admin_revokes_every_token(agent, signed_in, admin_client):
    response = admin_client.post(
        f"/admin/accounts/user/{agent.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response["Location"] == f"/admin/accounts/user/{agent.pk}/change/"
    assert _signed_out(*signed_in)
    assert not AuthToken.objects.filter(user=agent).exists()
    # The new password signs in as usual.
    _sign_in_with(NEW_PASSWORD)


def test_disabling_password_sign_in_in_the_admin_revokes_every_token(agent, signed_in, admin_client):
    response = admin_client.post(
        f"/admin/accounts/user/{agent.pk}/password/", {"usable_password": "false", "unset-password": "1"}
    )
    assert response["Location"] == f"/admin/accounts/user/{agent.pk}/change/"
    assert _signed_out(*signed_in)


def test_changepassword_command_revokes_every_token(agent, signed_in, monkeypatch):
    import getpass

    from django.core.management import call_command

    monkeypatch.setattr(getpass, "getpass", lambda prompt="Password: ", stream=None: NEW_PASSWORD)  # Django's prompt
    call_command("changepassword", "agent", stdout=StringIO())
    assert _signed_out(*signed_in)
    _sign_in_with(NEW_PASSWORD)


def test_set_password_and_save_revokes_every_token(agent, signed_in):
    agent.set_password(NEW_PASSWORD)
    agent.save()
    assert _signed_out(*signed_in)


def test_a_token_taken_after_the_change_keeps_working(agent, signed_in):
    agent.set_password(NEW_PASSWORD)
    agent.save()
    fresh = _sign_in_with(NEW_PASSWORD)
    agent.refresh_from_db()
    agent.email = "agent@example.org"
    agent.save()
    assert fresh.get("/api/v1/auth/me/").status_code == 200


def test_saves_that_keep_the_password_keep_the_tokens(agent, signed_in):
    agent.first_name = "Jane"
    agent.save()
    agent.set_password(NEW_PASSWORD)
    agent.save(update_fields=["first_name"])  # the new password is not saved, so nothing changed
    assert all(client.get("/api/v1/auth/me/").status_code == 200 for client in signed_in)


def test_a_password_rehashed_at_sign_in_is_no_change(agent, signed_in):
    from django.contrib.auth.hashers import make_password

    weak = make_password(PASSWORD, salt="x", hasher="md5")  # a salt too short: rehashed on sign-in
    type(agent).objects.filter(pk=agent.pk).update(password=weak)
    _sign_in("agent", "after the upgrade")
    agent.refresh_from_db()
    assert agent.password != weak  # it was rehashed
    assert all(client.get("/api/v1/auth/me/").status_code == 200 for client in signed_in)


def test_saving_a_user_whose_password_was_already_disabled_keeps_the_tokens(agent):
    agent.set_unusable_password()
    agent.save()  # disables password sign-in: revokes what there was
    _, token = AuthToken.objects.create(user=agent)
    service = APIClient()
    service.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    agent.first_name = "Service"
    agent.save()
    assert service.get("/api/v1/auth/me/").status_code == 200


def _sign_in_with(password):
    client = APIClient()
    response = client.post("/api/v1/auth/login/", {"username": "agent", "password": password})
    assert response.status_code == 200, response.json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client
