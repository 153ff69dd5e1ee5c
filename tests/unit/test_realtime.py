"""The live-delivery registry: tabs registered by one worker are found by any other."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from care_messaging.realtime import MemoryRegistry, RedisRegistry

REDIS_URL = os.environ.get("CARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _exercise(first, second) -> None:
    """``first`` and ``second`` play two workers sharing (or not) one registry."""
    # Ids no earlier run can have used (registrations live for hours in a shared Redis).
    user, other = (10**12 + uuid.uuid4().int % 10**12 for _ in range(2))
    tab_a, tab_b, tab_c = (f"tab-{uuid.uuid4().hex}" for _ in range(3))
    await first.register(user, tab_a, "state.dashboard_state")
    await second.register(user, tab_b, "state.profile_state")
    await second.register(other, tab_c, "state.portal_state")
    found = {(u, t, s) for u, t, s in await first.targets([user, other])}
    assert found == {
        (user, tab_a, "state.dashboard_state"),
        (user, tab_b, "state.profile_state"),
        (other, tab_c, "state.portal_state"),
    }
    # A tab that moves to another page is registered once, under its new page.
    await first.register(user, tab_a, "state.profile_state")
    assert sorted(s for _, t, s in await second.targets([user]) if t == tab_a) == ["state.profile_state"]
    await second.unregister(tab_b)
    assert {t for _, t, _ in await first.targets([user])} == {tab_a}
    # A tab reused by another user (a shared workstation) leaves the previous user's tabs:
    # their events, and the "Delivered" marks they cause, must not reach it (issue 16, 11).
    await second.register(other, tab_a, "state.portal_state")
    assert {t for _, t, _ in await first.targets([user])} == set()
    assert {t for _, t, _ in await first.targets([other])} == {tab_a, tab_c}


async def test_memory_registry():
    registry = MemoryRegistry()
    await _exercise(registry, registry)


def require_redis() -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL} (set CARE_TEST_REDIS_URL): {exc}")


async def test_redis_registry_is_shared_between_workers():
    require_redis()
    first, second = RedisRegistry(REDIS_URL), RedisRegistry(REDIS_URL)
    try:
        await _exercise(first, second)
    finally:
        keys = (await first._redis.keys("care:live:user:1*")
                + await first._redis.keys("care:live:token:tab-*"))
        if keys:
            await first._redis.delete(*keys)
        await first._redis.aclose()
        await second._redis.aclose()


async def test_a_new_typing_spell_is_not_cleared_by_the_last_ones_timer(monkeypatch):
    """Typing, sending (which ends the spell) and typing again within the idle time: the first
    spell's timer must not clear the indicator of the second."""
    from care_messaging import realtime
    from care_messaging.realtime import typing_indicator

    labels: list[str] = []

    async def fan_out(event, *, user_ids, exclude_token=""):  # what the other tabs are sent
        labels.append(event.label)
        return len(user_ids)

    # Where the spells look them up (realtime/typing_indicator.py).
    monkeypatch.setattr(typing_indicator, "publish", fan_out)
    monkeypatch.setattr(typing_indicator, "TYPING_IDLE_SECONDS", 0.3)
    spell = {"conversation_id": 4242, "patient_id": 1, "actor_user_id": 7,
             "label": "Dr. Lee", "user_ids": [7, 8]}
    await realtime.publish_typing(**spell)
    realtime.stop_typing(conversation_id=4242, actor_user_id=7)  # the message went out
    await asyncio.sleep(0.15)
    await realtime.publish_typing(**spell)  # typing again
    await asyncio.sleep(0.23)  # the first spell's timer is past, the second's is not
    assert labels == ["Dr. Lee", "Dr. Lee"]
    await asyncio.sleep(0.22)  # quiet long enough: the second spell clears
    assert labels == ["Dr. Lee", "Dr. Lee", ""]
