"""Which tabs are open for which user (and which page state each shows).

Single process (default): a dict in memory. Scale-out: with a Redis URL the registry lives in
Redis, so any worker can find every tab.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import reflex as rx

from care_messaging.settings import get_settings

REGISTRATION_TTL_SECONDS = 6 * 60 * 60


class Registry(Protocol):
    async def register(self, user_id: int, client_token: str, state_name: str) -> None: ...
    async def unregister(self, client_token: str) -> None: ...
    async def targets(self, user_ids: list[int]) -> list[tuple[int, str, str]]: ...


class MemoryRegistry:
    """Tabs of this process, by user id (a dict on the loop: nothing to wait for)."""

    def __init__(self) -> None:
        self._by_user: dict[int, dict[str, tuple[str, float]]] = {}

    async def register(self, user_id: int, client_token: str, state_name: str) -> None:
        await self.unregister(client_token)
        self._by_user.setdefault(user_id, {})[client_token] = (state_name, time.monotonic())

    async def unregister(self, client_token: str) -> None:
        for tabs in self._by_user.values():
            tabs.pop(client_token, None)

    async def targets(self, user_ids: list[int]) -> list[tuple[int, str, str]]:
        now = time.monotonic()
        out = []
        for user_id in set(user_ids):
            tabs = self._by_user.get(user_id, {})
            for token, (state_name, at) in list(tabs.items()):
                if now - at > REGISTRATION_TTL_SECONDS:
                    tabs.pop(token, None)
                    continue
                out.append((user_id, token, state_name))
        return out


class RedisRegistry:
    """Tabs of every worker, in Redis hashes ``care:live:user:<id>`` (token -> state name).

    On ``redis.asyncio``: the loop that carries every websocket never waits for Redis. Each
    call is one round trip (a pipeline), whatever the number of users: an event's audience is
    looked up at once, not user by user.
    """

    def __init__(self, url: str) -> None:
        import redis.asyncio

        # Any: redis-py types its sync and async clients' answers as one union.
        self._redis: Any = redis.asyncio.Redis.from_url(url, decode_responses=True)

    @staticmethod
    def _key(user_id: int) -> str:
        return f"care:live:user:{user_id}"

    async def register(self, user_id: int, client_token: str, state_name: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(self._key(user_id), client_token, state_name)
        pipe.expire(self._key(user_id), REGISTRATION_TTL_SECONDS)
        # SET ... GET: the user this tab was registered for until now, in the same round trip.
        pipe.set(f"care:live:token:{client_token}", user_id, ex=REGISTRATION_TTL_SECONDS,
                 get=True)
        previous = (await pipe.execute())[-1]
        if previous is not None and int(previous) != user_id:
            # A tab reused by another user: the previous user's events (and "Delivered" marks
            # for them) must stop going to it.
            await self._redis.hdel(self._key(int(previous)), client_token)

    async def unregister(self, client_token: str) -> None:
        user_id = await self._redis.get(f"care:live:token:{client_token}")
        if user_id is not None:
            await self._redis.hdel(self._key(int(user_id)), client_token)

    async def targets(self, user_ids: list[int]) -> list[tuple[int, str, str]]:
        users = sorted(set(user_ids))
        if not users:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for user_id in users:
            pipe.hgetall(self._key(user_id))
        found = await pipe.execute()
        return [(user_id, token, state_name)
                for user_id, tabs in zip(users, found, strict=True)
                for token, state_name in tabs.items()]


_registry: Registry | None = None


def get_registry() -> Registry:
    global _registry
    if _registry is None:
        url = get_settings().redis_url
        _registry = RedisRegistry(url) if url else MemoryRegistry()
    return _registry


def reset_registry() -> None:
    """Forget the registry (tests switch settings between runs)."""
    global _registry
    _registry = None


async def register(*, user_id: int, client_token: str, state_cls: type[rx.State]) -> None:
    """Remember that this tab shows ``state_cls`` for ``user_id``."""
    if client_token:
        await get_registry().register(user_id, client_token, state_cls.get_full_name())


async def unregister(*, client_token: str) -> None:
    if client_token:
        await get_registry().unregister(client_token)
