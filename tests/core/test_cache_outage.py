"""Losing Redis costs no request (core.fastpaths.cache.RedisCache): every operation the platform
uses answers a miss or stores nothing, the process skips Redis for a back-off window after a
failure, and each caller reads a miss for what it is: authentication from the database, throttles
and sign-in protection failing open (warning once), runtime settings from the database or the
environment, the FMCSA breaker in the process. tests/core/test_redis_outage.py shows it on a
running server."""

import logging
import socket

import pytest
import redis
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient, APIRequestFactory

from accounts import roles, signin
from carriers.fmcsa import Circuit
from core import runtime
from core.api import throttling
from core.api.throttling import UserRateThrottle
from core.fastpaths import cache as fastcache
from core.fastpaths.cache import RedisCache
from core.models import RuntimeSetting
from tests.factories import UserFactory

REDIS_URL = "redis://127.0.0.1:6379/9"
OPTIONS = {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _forget_outages():
    fastcache._outages.clear()
    throttling._warned["at"] = None


@pytest.fixture(autouse=True)
def _fresh_process_state():
    _forget_outages()
    yield
    _forget_outages()


@pytest.fixture
def down_backend():
    """A backend pointed at a closed port: Redis is unreachable."""
    return RedisCache(f"redis://127.0.0.1:{_closed_port()}/9", {"OPTIONS": OPTIONS})


@pytest.fixture
def live_backend():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    backend = RedisCache(REDIS_URL, {"OPTIONS": OPTIONS, "KEY_PREFIX": "test-cache-outage"})
    yield backend
    backend.clear()


@pytest.fixture
def cache_down(settings):
    """The application's cache is the platform's Redis backend with Redis unreachable."""
    settings.CACHES = {
        "default": {
            "BACKEND": "core.fastpaths.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/9",
            "OPTIONS": OPTIONS,
        }
    }
    yield cache
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def _cut(backend, monkeypatch):
    """Make every call of ``backend`` fail as a lost Redis does; returns how to count the attempts."""
    attempts = []

    def unreachable(*args, **kwargs):
        attempts.append(args)
        raise redis.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(backend._cache, "get_client", unreachable)
    return attempts


# --- The backend ------------------------------------------------------------------------


def test_every_operation_is_a_miss_or_stores_nothing(down_backend):
    assert not down_backend.degraded
    assert down_backend.get("a", "default") == "default"
    assert down_backend.degraded
    down_backend._outage.retry_at = 0  # each operation below tries Redis itself
    assert down_backend.get_many(["a", "b"]) == {}
    assert down_backend.has_key("a") is False
    assert down_backend.set("a", 1, 30) is None
    assert down_backend.set_many({"a": 1, "b": 2}, 30) == ["a", "b"]
    assert down_backend.add("a", 1, 30) is False
    assert down_backend.touch("a", 30) is False
    with pytest.raises(ValueError):
        down_backend.incr("a")
    with pytest.raises(ValueError):
        down_backend.decr("a")
    assert down_backend.get_or_set("a", 5) == 5
    assert down_backend.delete("a") is False
    down_backend.delete_many(["a", "b"])
    down_backend.clear()
    assert down_backend.count("a", 60, peek="b") == (0, 0)
    assert down_backend.degraded


def test_after_a_failure_redis_is_skipped_for_the_back_off_window(live_backend, monkeypatch, caplog):
    attempts = _cut(live_backend, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="core.fastpaths.cache"):
        assert live_backend.get("a") is None
        for _ in range(20):
            live_backend.get("a")
            live_backend.count("a", 60, peek="b")
            live_backend.set("a", 1)
    assert len(attempts) == 1  # one request pays the timeout once, not per call
    assert [r.message for r in caplog.records].count(
        "The Redis cache is unreachable (ConnectionError); serving without it, retrying every 5 s"
    ) == 1


def test_threads_share_what_the_process_knows(live_backend, monkeypatch):
    # Django builds a backend per thread; one thread's failure spares the others the timeout.
    other_thread = RedisCache(REDIS_URL, {"OPTIONS": OPTIONS, "KEY_PREFIX": "test-cache-outage"})
    _cut(live_backend, monkeypatch)
    live_backend.get("a")
    other_attempts = _cut(other_thread, monkeypatch)
    assert other_thread.degraded and other_thread.get("a") is None
    assert other_attempts == []


def test_a_warning_at_most_once_a_minute_while_it_lasts(live_backend, monkeypatch, caplog):
    _cut(live_backend, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="core.fastpaths.cache"):
        for _ in range(5):
            live_backend._outage.retry_at = 0  # the window has passed: Redis is tried again
            live_backend.get("a")
        assert len(caplog.records) == 1
        live_backend._outage.warned_at -= fastcache.WARNING_INTERVAL_SECONDS
        live_backend._outage.retry_at = 0
        live_backend.get("a")
    assert len(caplog.records) == 2


def test_it_resumes_by_itself_and_replays_the_deletes_it_missed(live_backend, monkeypatch, caplog):
    live_backend.set("token", "cached identity", 60)
    live_backend.set("other", "kept", 60)
    with monkeypatch.context() as outage:
        _cut(live_backend, outage)
        live_backend.delete("token")  # a logout while Redis is unreachable
        assert live_backend.degraded
    assert live_backend.get("token") is None  # still in the back-off window: not tried
    live_backend._outage.retry_at = 0  # the window has passed
    with caplog.at_level(logging.WARNING, logger="core.fastpaths.cache"):
        assert live_backend.get("other") == "kept"
    assert not live_backend.degraded
    assert "The Redis cache is reachable again" in caplog.text
    # The invalidation made during the outage was applied before anything was read.
    assert live_backend.get("token") is None
    assert live_backend._outage.pending_deletes == {}


def test_the_probe_ignores_the_back_off_window(live_backend, monkeypatch):
    with monkeypatch.context() as outage:
        _cut(live_backend, outage)
        with pytest.raises(redis.exceptions.ConnectionError):
            live_backend.probe("health", "ok", 10)
        assert live_backend.degraded
    assert live_backend.probe("health", "ok", 10) == "ok"
    assert not live_backend.degraded


def test_a_timeout_is_an_outage_too():
    # A Redis that accepts and never answers: the read timeout, not a hang.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        backend = RedisCache(f"redis://127.0.0.1:{silent.getsockname()[1]}/9", {"OPTIONS": OPTIONS})
        assert backend.get("a", "default") == "default"
        assert backend.degraded


def test_settings_give_the_redis_backend_short_timeouts():
    from config.settings.base import with_reusing_redis_client

    configured = with_reusing_redis_client(
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    )
    assert configured["BACKEND"] == "core.fastpaths.cache.RedisCache"
    assert configured["OPTIONS"] == {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}
    assert configured["OUTAGE_BACKOFF_SECONDS"] == 5.0
    backend = RedisCache(REDIS_URL, configured)
    assert backend._outage.backoff == 5.0
    pool = backend._cache.get_client().connection_pool
    assert pool.connection_kwargs["socket_connect_timeout"] == 0.25
    assert pool.connection_kwargs["socket_timeout"] == 0.25


# --- Its callers --------------------------------------------------------------------------


def test_throttles_fail_open_and_warn_once(down_backend, caplog):
    request = APIRequestFactory().get("/api/v1/loads/")
    request.user = UserFactory.build(pk=4242)
    with caplog.at_level(logging.WARNING, logger="core.api.throttling"):
        for _ in range(20):
            throttle = UserRateThrottle()
            throttle.cache = down_backend
            throttle.rate = "5/min"
            throttle.num_requests, throttle.duration = throttle.parse_rate(throttle.rate)
            assert throttle.allow_request(request, None)
    assert [r.message for r in caplog.records if r.name == "core.api.throttling"] == [
        "Throttles and sign-in lockouts are failing open: the cache is unreachable"
    ]


@pytest.mark.django_db
def test_sign_in_fails_open(cache_down, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/min"},
    }
    settings.SIGN_IN_LOCKOUT_FAILURES = 2
    user = UserFactory(password="correct horse battery staple")
    client = APIClient()
    for _ in range(4):
        response = client.post("/api/v1/auth/login/", {"username": user.username, "password": "wrong"}, format="json")
        assert response.status_code == 400, response.content
    assert signin.lockout_remaining(user.username) == 0
    response = client.post(
        "/api/v1/auth/login/", {"username": user.username, "password": "correct horse battery staple"}, format="json"
    )
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_authentication_falls_back_to_the_database(cache_down, settings):
    settings.API_AUTH_CACHE_SECONDS = 60
    user = UserFactory(roles=[roles.SALES_AGENT])
    auth_token, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    for _ in range(3):
        assert client.get("/api/v1/loads/").status_code == 200
    assert cache_down.degraded
    auth_token.delete()  # revoked while the cache is unreachable: refused at once
    assert client.get("/api/v1/loads/").status_code == 401


@pytest.mark.django_db
def test_token_last_use_marks_are_skipped_and_written_once_the_cache_is_back(monkeypatch):
    from accounts import auth

    user = UserFactory()
    auth_token, _ = AuthToken.objects.create(user=user)
    monkeypatch.setattr(auth, "cache_degraded", lambda cache: True)
    auth.record_use(auth_token)
    assert auth_token.digest not in auth._recorded_here
    monkeypatch.setattr(auth, "cache_degraded", lambda cache: False)
    auth.record_use(auth_token)
    assert auth.last_used([auth_token.digest])


@pytest.mark.django_db
def test_runtime_settings_fall_back_to_the_database_and_the_environment(cache_down, settings):
    settings.TEST_OUTAGE_KNOB = 3
    runtime.define("TEST_OUTAGE_KNOB", int, "A knob for tests.", minimum=1, maximum=10)
    try:
        assert runtime.get("TEST_OUTAGE_KNOB") == 3
        RuntimeSetting.objects.create(key="TEST_OUTAGE_KNOB", value=7)
        assert runtime.get("TEST_OUTAGE_KNOB") == 7
    finally:
        runtime._specs.pop("TEST_OUTAGE_KNOB", None)


def test_the_fmcsa_breaker_keeps_its_state_in_the_process(cache_down, settings):
    settings.FMCSA_CIRCUIT_FAILURES = 2
    settings.FMCSA_CIRCUIT_RESET_SECONDS = 30
    Circuit.record_success()
    assert not Circuit.is_open()
    Circuit.record_failure()
    assert not Circuit.is_open()
    Circuit.record_failure()
    assert Circuit.is_open()  # not "closed forever" because the cache answers misses
    Circuit.record_success()
    assert not Circuit.is_open()


def test_the_fmcsa_breaker_opened_before_the_outage_stays_open(settings):
    settings.FMCSA_CIRCUIT_FAILURES = 1
    settings.FMCSA_CIRCUIT_RESET_SECONDS = 30
    cache.clear()
    Circuit.record_failure()  # opened on the shared cache
    settings.CACHES = {
        "default": {
            "BACKEND": "core.fastpaths.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/9",
            "OPTIONS": OPTIONS,
        }
    }
    assert Circuit.is_open()  # the cache is lost: this process remembers
    Circuit.record_success()
    assert not Circuit.is_open()
