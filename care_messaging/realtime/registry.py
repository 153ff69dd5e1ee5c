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


# A live event's audience in one round trip: every tab of the users and, for each, the socket
# record Reflex keeps for it (which worker holds its websocket). Run as a script: the records'
# keys are only known once the tabs are, and a second round trip per event cost the worker
# about as much CPU as the lookup itself. A missing record comes back as "" (a nil would end
# the Lua array). Needs one Redis, not Redis Cluster (as Reflex's state manager does): the
# records' keys are computed inside the script.
_TABS_AND_SOCKETS = """
local out = {}
for i, key in ipairs(KEYS) do
  local tabs = redis.call('HGETALL', key)
  for j = 1, #tabs, 2 do
    out[#out + 1] = tostring(i)
    out[#out + 1] = tabs[j]
    out[#out + 1] = tabs[j + 1]
    out[#out + 1] = redis.call('GET', ARGV[1] .. tabs[j]) or ''
  end
end
return out
"""


class RedisRegistry:
    """Tabs of every worker, in Redis hashes ``care:live:user:<id>`` (token -> state name).

    On ``redis.asyncio``: the loop that carries every websocket never waits for Redis. Each
    call is one round trip (a pipeline or a script), whatever the number of users: an event's
    audience is looked up at once, not user by user.
    """

    def __init__(self, url: str) -> None:
        import redis.asyncio

        # Any: redis-py types its sync and async clients' answers as one union.
        self._redis: Any = redis.asyncio.Redis.from_url(url, decode_responses=True)
        # Socket records are pickles (bytes): read through a client that leaves them as such.
        self._raw: Any = redis.asyncio.Redis.from_url(url)
        self._tabs_and_sockets = self._raw.register_script(_TABS_AND_SOCKETS)

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

    async def targets_with_sockets(self, user_ids: list[int], record_prefix: str
                                   ) -> list[tuple[int, str, str, bytes]]:
        """``targets`` and each tab's socket record (Reflex's key ``record_prefix + token``;
        b"" when it has none), in one round trip."""
        users = sorted(set(user_ids))
        if not users:
            return []
        flat = await self._tabs_and_sockets(keys=[self._key(u) for u in users],
                                            args=[record_prefix])
        return [(users[int(flat[i]) - 1], flat[i + 1].decode(), flat[i + 2].decode(),
                 flat[i + 3]) for i in range(0, len(flat), 4)]


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
