"""Django's Redis cache backend, with one Redis client per connection pool.

Django's ``RedisCacheClient.get_client()`` builds a new ``redis.Redis`` (and its table of
response callbacks) for every cache call; on the API's hot path that is several per request
(authentication, the token's last-use mark, the throttle). A ``redis.Redis`` is thread-safe and
holds no state beyond its pool, so one per pool serves every call.

Private APIs it touches (tests/core/test_fastpaths_guards.py): Django's ``RedisCacheClient``
``_get_connection_pool_index``, ``_get_connection_pool`` and ``_client``; ``RedisCache._class`` (the
client class it builds) and ``_cache`` (that client)."""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._redis_clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._redis_clients.get(index)
        if client is None:
            client = self._client(connection_pool=self._get_connection_pool(write))
            self._redis_clients[index] = client
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient

    def validate_key(self, key):
        # Django's check warns about keys memcached would refuse (over 250 characters, spaces,
        # control characters), a loop over every character of every key; Redis takes any key.
        pass

    def count(self, key, timeout, *, delta=1, peek=None, version=None) -> tuple[int, int]:
        """Add ``delta`` to the counter ``key`` (created with ``timeout`` seconds to live) and
        return its new value with that of the counter ``peek`` (0 when absent), in one round
        trip; concurrent callers never lose a count."""
        key = self.make_and_validate_key(key, version=version)
        # One round trip, no MULTI/EXEC: INCRBY alone is atomic, and EXPIRE NX and the peek
        # need not be in step with it.
        pipe = self._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.incrby(key, delta)
        pipe.expire(key, timeout, nx=True)
        if peek is not None:
            pipe.get(self.make_and_validate_key(peek, version=version))
        results = pipe.execute()
        return results[0], int(results[2] or 0) if peek is not None else 0
