"""The request throttles count requests per window on the shared cache (core.api.throttling):
the limit holds across a window's edge, refused requests are not counted, and Retry-After says
when the next request gets through. Run on Redis (as deployed) and on the in-process cache."""

import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.test import APIRequestFactory

from core.api.throttling import UserRateThrottle
from core.fastpaths.cache import RedisCache
from tests.factories import UserFactory

REDIS_URL = "redis://127.0.0.1:6379/3"


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture(params=["redis", "locmem"])
def shared_cache(request):
    if request.param == "locmem":
        return LocMemCache(f"throttle-{uuid.uuid4()}", {})
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return RedisCache(REDIS_URL, {"KEY_PREFIX": f"throttle-{uuid.uuid4()}"})


@pytest.fixture
def make_throttle(shared_cache):
    clock = Clock(60 * 16_667 + 20.0)  # 20 s into a minute

    def make():
        throttle = UserRateThrottle()
        throttle.cache, throttle.timer = shared_cache, clock
        throttle.rate = "5/min"
        throttle.num_requests, throttle.duration = throttle.parse_rate(throttle.rate)
        return throttle

    return make, clock


@pytest.fixture
def request_of():
    user = UserFactory.build(pk=4242)
    request = APIRequestFactory().get("/api/v1/loads/")
    request.user = user
    return request


def _allowed(make, request, times):
    return [make().allow_request(request, None) for _ in range(times)]


@pytest.mark.django_db
def test_the_limit_holds_and_refused_requests_are_not_counted(make_throttle, request_of):
    make, clock = make_throttle
    assert _allowed(make, request_of, 7) == [True] * 5 + [False] * 2
    refused = make()
    assert refused.allow_request(request_of, None) is False
    assert 0 < refused.wait() <= 40 + 1e-6  # what is left of this minute
    # 15 s into the next minute the previous window's five still weigh 5 * 45/60 = 3.75:
    # one more request fits, a second does not.
    clock.now += 55
    assert _allowed(make, request_of, 1) == [True]
    assert _allowed(make, request_of, 1) == [False]


@pytest.mark.django_db
def test_a_window_edge_does_not_double_the_limit(make_throttle, request_of):
    make, clock = make_throttle
    clock.now += 39.9  # the last moment of the minute
    assert _allowed(make, request_of, 5) == [True] * 5
    clock.now += 0.2  # the first moment of the next one
    assert _allowed(make, request_of, 5) == [False] * 5
    clock.now += 60  # a whole minute later the old window no longer counts
    assert _allowed(make, request_of, 6) == [True] * 5 + [False]


@pytest.mark.django_db
def test_wait_is_when_the_next_request_gets_through(make_throttle, request_of):
    make, clock = make_throttle
    _allowed(make, request_of, 5)
    clock.now += 45  # 5 s into the next minute, the previous five weigh 5 * 55/60
    throttle = make()
    assert throttle.allow_request(request_of, None) is False
    clock.now += throttle.wait() + 0.01
    assert make().allow_request(request_of, None) is True


@pytest.mark.django_db
def test_each_user_has_their_own_count(make_throttle, request_of):
    make, _ = make_throttle
    assert _allowed(make, request_of, 6)[-1] is False
    other = APIRequestFactory().get("/api/v1/loads/")
    other.user = UserFactory.build(pk=4343)
    assert make().allow_request(other, None) is True


def test_the_api_answers_429_with_retry_after(sales_agent_client, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/min"})
    responses = [sales_agent_client.get("/api/v1/loads/") for _ in range(3)]
    assert [r.status_code for r in responses][-1] == 429
    assert int(responses[-1]["Retry-After"]) >= 1
