"""The Redis cache backend the platform runs in production (core.fastpaths.cache.RedisCache)."""

import asyncio

import pytest
import redis
from asgiref.sync import sync_to_async
from django.core.cache import caches
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


def test_every_backend_of_the_same_settings_shares_the_process_pools(backend):
    # Django builds a backend per thread and, under ASGI, per request: each would open its own Redis connection.
    again = RedisCache(LOCATION, {"KEY_PREFIX": "test-core-cache"})
    assert again is not backend and again._cache is backend._cache
    other = RedisCache(LOCATION, {"KEY_PREFIX": "test-core-cache", "OPTIONS": {"socket_timeout": 0.5}})
    assert other._cache is not backend._cache  # other client options, other pools


def test_asgi_requests_reuse_one_redis_connection(backend, settings):
    settings.CACHES = {"default": {"BACKEND": "core.fastpaths.cache.RedisCache", "LOCATION": LOCATION}}

    async def request(n):  # each ASGI request runs in a context of its own, as here each task
        cache = caches["default"]
        await sync_to_async(cache.set)(f"asgi-{n}", n, 30)
        return cache

    async def requests():
        return await asyncio.gather(*(request(n) for n in range(5)))

    backends = asyncio.run(requests())
    assert len({id(cache) for cache in backends}) == 5  # Django's backend per request...
    pools = {cache._cache.get_client(write=True).connection_pool for cache in backends}
    assert len(pools) == 1  # ...and one pool for them all
    (pool,) = pools
    opened = pool._created_connections
    asyncio.run(requests())
    assert pool._created_connections == opened  # the next requests open none


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
