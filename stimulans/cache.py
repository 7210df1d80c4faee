"""The shared Redis cache, forgiving: when Redis does not answer, the product goes on without it.

Django's own `RedisCache` raises on a connection error, and the cached-db session
store writes the cache on reads and logouts without catching it: with Redis down
every signed-in page would fail. Here every call that finds Redis gone is a miss
(or a no-op) and a warning in the log, so sessions are read from the database and
pages answer; when Redis is back the next call uses it again, with no restart.
"""

import logging

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


def _warn(operation: str, exc: Exception) -> None:
    logger.warning("cache %s skipped: Redis does not answer (%s)", operation, exc)


class ForgivingRedisCache(RedisCache):
    def add(self, key, *args, **kwargs):
        try:
            return super().add(key, *args, **kwargs)
        except UNREACHABLE as exc:
            _warn("add", exc)
            return False

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except UNREACHABLE as exc:
            _warn("get", exc)
            return default

    def set(self, key, *args, **kwargs):
        try:
            super().set(key, *args, **kwargs)
        except UNREACHABLE as exc:
            _warn("set", exc)

    def touch(self, key, *args, **kwargs):
        try:
            return super().touch(key, *args, **kwargs)
        except UNREACHABLE as exc:
            _warn("touch", exc)
            return False

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except UNREACHABLE as exc:
            _warn("delete", exc)
            return False

    def get_many(self, keys, version=None):
        try:
            return super().get_many(keys, version)
        except UNREACHABLE as exc:
            _warn("get_many", exc)
            return {}

    def has_key(self, key, version=None):
        try:
            return super().has_key(key, version)
        except UNREACHABLE as exc:
            _warn("has_key", exc)
            return False

    def set_many(self, data, *args, **kwargs):
        try:
            return super().set_many(data, *args, **kwargs)
        except UNREACHABLE as exc:
            _warn("set_many", exc)
            return list(data)

    def delete_many(self, keys, version=None):
        try:
            super().delete_many(keys, version)
        except UNREACHABLE as exc:
            _warn("delete_many", exc)
