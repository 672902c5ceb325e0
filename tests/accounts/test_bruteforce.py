"""Sign-in protection (accounts.signin): the API sign-in and the HTML sign-in forms are throttled
per client address and per username, the client address comes from the trusted proxies only, and
a username with repeated failures is refused for a while from any address, known or not."""

import importlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.test import RequestFactory, override_settings
from django.urls import clear_url_caches
from rest_framework.test import APIClient

from core.network import client_address
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LOGIN = "/api/v1/auth/login/"
HTML_SIGN_INS = ["/sign-in/", "/admin/login/", "/api-auth/login/"]
LOCKOUT_SECONDS = 15 * 60
REDIS_URL = "redis://127.0.0.1:6379/3"


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def rates(settings):
    """``rates(login="3/min")`` sets sign-in throttle rates for this test."""

    def set_rates(**scopes):
        current = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**current, **scopes}}

    return set_rates


@pytest.fixture
def lockout(settings):
    settings.SIGN_IN_LOCKOUT_FAILURES = 3
    settings.SIGN_IN_LOCKOUT_WINDOW_SECONDS = 15 * 60
    settings.SIGN_IN_LOCKOUT_SECONDS = LOCKOUT_SECONDS


@pytest.fixture
def agent():
    return UserFactory(username="agent", password=PASSWORD)


def _api_login(username="agent", password="wrong", **extra):
    return APIClient().post(LOGIN, {"username": username, "password": password}, **extra)


def _form_login(client, url, username="agent", password="wrong", **extra):
    return client.post(url, {"username": username, "password": password, "next": "/"}, **extra)


# --- The client address ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.9"),  # no trusted proxy: the header is the client's own
        (1, None, "10.0.0.9"),
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "1.2.3.4, 198.51.100.1", "198.51.100.1"),  # whatever the client wrote is on the left
        (2, "1.2.3.4, 198.51.100.1, 10.0.0.2", "198.51.100.1"),
        (2, "198.51.100.1", "198.51.100.1"),  # came in through the inner proxy only
        (1, "1.2.3.4, not-an-address", "10.0.0.9"),
        (1, "1.2.3.4, 2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address_trusts_only_the_addresses_the_proxies_appended(settings, proxies, forwarded, expected):
    settings.NUM_PROXIES = proxies
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    request = RequestFactory().post(LOGIN, REMOTE_ADDR="10.0.0.9", **headers)
    assert client_address(request) == expected


def test_drf_is_told_the_same_number_of_proxies(settings):
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.NUM_PROXIES == 0


def test_a_new_x_forwarded_for_each_attempt_does_not_escape_the_api_throttle(agent, rates):
    rates(login="3/min")
    statuses = [_api_login(HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(4)]
    assert statuses == [400, 400, 400, 429]
    refused = _api_login(password=PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.77")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    body = refused.json()
    assert body["status"] == 429 and body["code"] == "throttled"
    assert body["detail"].startswith("Too many sign-in attempts.")


def test_behind_one_proxy_the_right_most_forwarded_address_is_the_client(agent, rates, settings):
    settings.NUM_PROXIES = 1
    rates(login="2/min")
    # One client making up the left part of the header each time is still one client.
    statuses = [_api_login(HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, 203.0.113.7").status_code for n in range(3)]
    assert statuses == [400, 400, 429]
    # Another client behind the same proxy has its own count.
    assert _api_login(HTTP_X_FORWARDED_FOR="203.0.113.7, 203.0.113.8").status_code == 400


# --- Throttles per address and per username --------------------------------------------


def test_attempts_at_one_username_are_throttled_from_any_address(agent, rates):
    rates(login_username="2/min")
    statuses = [_api_login(REMOTE_ADDR=f"192.0.2.{n}").status_code for n in range(3)]
    assert statuses == [400, 400, 429]
    assert _api_login("someone-else", REMOTE_ADDR="192.0.2.50").status_code == 400
    # Case and surrounding blanks make no new username.
    assert _api_login(" AGENT ", REMOTE_ADDR="192.0.2.51").status_code == 429


@pytest.mark.parametrize("url", HTML_SIGN_INS)
def test_html_sign_in_forms_are_throttled_per_address(agent, rates, client, url):
    rates(login="2/min")
    assert client.get(url).status_code == 200  # showing the form costs nothing
    assert [_form_login(client, url, username=f"user{n}").status_code for n in range(2)] == [200, 200]
    refused = _form_login(client, url, password=PASSWORD)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many sign-in attempts" in refused.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("url", HTML_SIGN_INS)
def test_html_sign_in_forms_are_throttled_per_username(agent, rates, client, url):
    rates(login_username="2/min")
    for n in range(2):
        _form_login(client, url, REMOTE_ADDR=f"192.0.2.{n}")
    assert _form_login(client, url, password=PASSWORD, REMOTE_ADDR="192.0.2.9").status_code == 429


def test_the_api_and_the_forms_share_one_count_per_address(agent, rates, client):
    rates(login="3/min")
    _api_login()
    _form_login(client, "/sign-in/")
    _form_login(client, "/admin/login/")
    assert _api_login().status_code == 429
    assert _form_login(client, "/api-auth/login/").status_code == 429


# --- Lockout per username ---------------------------------------------------------------


def test_repeated_failures_lock_the_username_out_from_every_address(agent, lockout, client):
    assert [_api_login(REMOTE_ADDR=f"192.0.2.{n}").status_code for n in range(3)] == [400, 400, 400]
    refused = _api_login(password=PASSWORD, REMOTE_ADDR="198.51.100.1")
    assert refused.status_code == 429
    assert LOCKOUT_SECONDS - 5 <= int(refused["Retry-After"]) <= LOCKOUT_SECONDS
    assert refused.json()["code"] == "throttled"
    for url in HTML_SIGN_INS:
        assert _form_login(client, url, password=PASSWORD, REMOTE_ADDR="198.51.100.2").status_code == 429
    # Other usernames, from the same addresses, are not affected.
    UserFactory(username="dana", password=PASSWORD)
    assert _api_login("dana", PASSWORD, REMOTE_ADDR="192.0.2.0").status_code == 200


def test_failures_on_the_html_forms_count_towards_the_lockout(agent, lockout, client):
    _form_login(client, "/sign-in/")
    _form_login(client, "/admin/login/")
    _form_login(client, "/api-auth/login/")
    assert _api_login(password=PASSWORD).status_code == 429


def test_unknown_usernames_are_answered_exactly_as_known_ones(agent, lockout, time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False)

    def attempts(username):
        responses = [_api_login(username, REMOTE_ADDR=f"192.0.2.{n}") for n in range(5)]
        return [(r.status_code, r.json(), r.get("Retry-After")) for r in responses]

    known, unknown = attempts("agent"), attempts("nobody-by-this-name")
    assert [status for status, _, _ in known] == [400, 400, 400, 429, 429]
    assert known == unknown


def test_a_lockout_ends_after_its_time_and_a_success_does_not_lift_it(agent, lockout, time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False)
    for _ in range(3):
        _api_login()
    assert _api_login(password=PASSWORD).status_code == 429  # the right password waits too
    time_machine.shift(timedelta(seconds=LOCKOUT_SECONDS - 10))
    refused = _api_login(password=PASSWORD)
    assert refused.status_code == 429 and int(refused["Retry-After"]) == 10
    time_machine.shift(timedelta(seconds=11))
    assert _api_login(password=PASSWORD).status_code == 200
    # The count starts afresh: one more failure is only a failure.
    assert _api_login().status_code == 400


def test_failures_spread_wider_than_the_window_do_not_lock(agent, lockout, time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False)
    _api_login()
    _api_login()
    time_machine.shift(timedelta(minutes=31))  # two windows later the old failures weigh nothing
    assert [_api_login().status_code for _ in range(2)] == [400, 400]
    assert _api_login(password=PASSWORD).status_code == 200


def test_failures_either_side_of_a_window_edge_still_lock(agent, lockout, time_machine):
    window_start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 09:00 starts a 15-minute window
    time_machine.move_to(window_start - timedelta(seconds=5), tick=False)
    _api_login()
    _api_login()
    time_machine.shift(timedelta(seconds=10))
    _api_login()
    assert _api_login(password=PASSWORD).status_code == 429


@pytest.fixture(params=["redis", "locmem"])
def shared_cache(request, monkeypatch):
    """The lockout's cache: Redis as deployed (its counters take one round trip), and in-process."""
    from django.core.cache.backends.locmem import LocMemCache

    from accounts import signin
    from core.fastpaths.cache import RedisCache

    if request.param == "locmem":
        shared = LocMemCache(f"sign-in-{uuid.uuid4()}", {})
    else:
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        except redis.exceptions.ConnectionError:
            pytest.skip("no Redis on 127.0.0.1:6379")
        shared = RedisCache(REDIS_URL, {"KEY_PREFIX": f"sign-in-{uuid.uuid4()}"})
    monkeypatch.setattr(signin, "cache", shared)
    return shared


def test_the_lockout_counts_on_the_shared_cache(lockout, shared_cache, time_machine):
    from accounts.signin import failure_record, lockout_remaining

    time_machine.move_to(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False)
    for _ in range(2):
        failure_record(username="agent")
    assert lockout_remaining("agent") == 0
    failure_record(username="Agent")
    assert lockout_remaining("agent") == LOCKOUT_SECONDS
    failure_record(username="agent")  # a failure during the lockout does not extend it
    time_machine.shift(timedelta(seconds=60))
    assert lockout_remaining("agent") == LOCKOUT_SECONDS - 60
    assert lockout_remaining("someone-else") == 0


def test_the_html_forms_show_a_lockout_page_with_retry_after(agent, lockout, client, time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False)
    for _ in range(3):
        _api_login()
    refused = _form_login(client, "/sign-in/", password=PASSWORD)
    assert refused.status_code == 429 and refused["Retry-After"] == str(LOCKOUT_SECONDS)
    assert "Try again in 15 minutes." in refused.content.decode()
    assert "_auth_user_id" not in client.session
    time_machine.shift(timedelta(seconds=LOCKOUT_SECONDS + 1))
    assert _form_login(client, "/sign-in/", password=PASSWORD).status_code == 302


# --- DRF's browsable-API sign-in page ---------------------------------------------------


@pytest.fixture
def urls_without_browsable_login():
    import config.urls

    with override_settings(API_BROWSABLE_LOGIN=False):
        importlib.reload(config.urls)
        clear_url_caches()
        yield
    importlib.reload(config.urls)
    clear_url_caches()


def test_without_the_browsable_login_a_session_still_uses_the_browsable_api(urls_without_browsable_login, client):
    assert client.get("/api-auth/login/").status_code == 404
    client.force_login(UserFactory(is_staff=True))
    page = client.get("/api/v1/auth/me/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    assert "text/html" in page["Content-Type"]
    html = page.content.decode()
    assert "/api-auth/logout/" in html and "/api-auth/login/" not in html


def test_production_leaves_the_browsable_login_out():
    from tests.core.test_settings import PRODUCTION_ENV, _manage

    result = _manage(
        "shell", "-c", "from django.conf import settings; print(settings.API_BROWSABLE_LOGIN)", env=PRODUCTION_ENV
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"
