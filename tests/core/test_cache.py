"""The Redis cache backend the platform runs in production (core.fastpaths.cache.RedisCache)."""

import pytest
import redis
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

from core.fastpaths.cache import RedisCache

LOCATION = "redis://127.0.0.1:6379/3"


@pytest.fixture
def backend():
    try:
        redis.Redis.from_url(LOCATION).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    cache = RedisCache(LOCATION, {"KEY_PREFIX": "test-core-cache"})
    yield cache
    cache.clear()


def test_it_is_djangos_redis_cache_with_one_client_per_pool(backend):
    assert isinstance(backend, DjangoRedisCache)
    assert backend._cache.get_client() is backend._cache.get_client()
    assert backend._cache.get_client(write=True) is backend._cache.get_client(write=True)


def test_it_stores_what_the_platform_stores(backend):
    backend.set("token", ("user", 1), 30)
    assert backend.get("token") == ("user", 1)
    backend.set_many({"a": 1, "b": 2}, 30)
    assert backend.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
    assert backend.incr("a") == 2
    backend.delete_many(["a", "b", "token"])
    assert backend.get("token") is None and backend.get("a", "gone") == "gone"


def test_with_redis_up_every_operation_answers_as_djangos_does(backend):
    stock = DjangoRedisCache(LOCATION, {"KEY_PREFIX": "test-core-cache"})
    assert backend.add("n", 1, 30) is True and backend.add("n", 2, 30) is False
    assert stock.get("n") == 1 and backend.has_key("n") and not backend.has_key("absent")
    assert backend.touch("n", 60) is True and backend.touch("absent", 60) is False
    assert backend.decr("n") == 0 == stock.get("n")
    assert backend.get_or_set("made", 7, 30) == 7 == stock.get("made")
    assert backend.delete("made") is True and backend.delete("made") is False
    assert backend.set_many({"a": 1}, 30) == []
    assert backend.count("c", 30, peek="n") == (1, 0)
    assert backend.count("c", 30, delta=2) == (3, 0)
    assert not backend.degraded
