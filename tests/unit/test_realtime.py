"""The live-delivery registry: tabs registered by one worker are found by any other."""

from __future__ import annotations

import os
import uuid

import pytest

from care_messaging.realtime import MemoryRegistry, RedisRegistry

REDIS_URL = os.environ.get("CARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _exercise(first, second) -> None:
    """``first`` and ``second`` play two workers sharing (or not) one registry."""
    # Ids no earlier run can have used (registrations live for hours in a shared Redis).
    user, other = (10**12 + uuid.uuid4().int % 10**12 for _ in range(2))
    tab_a, tab_b, tab_c = (f"tab-{uuid.uuid4().hex}" for _ in range(3))
    first.register(user, tab_a, "state.dashboard_state")
    second.register(user, tab_b, "state.profile_state")
    second.register(other, tab_c, "state.portal_state")
    found = {(u, t, s) for u, t, s in first.targets([user, other])}
    assert found == {
        (user, tab_a, "state.dashboard_state"),
        (user, tab_b, "state.profile_state"),
        (other, tab_c, "state.portal_state"),
    }
    # A tab that moves to another page is registered once, under its new page.
    first.register(user, tab_a, "state.profile_state")
    assert sorted(s for _, t, s in second.targets([user]) if t == tab_a) == ["state.profile_state"]
    second.unregister(tab_b)
    assert {t for _, t, _ in first.targets([user])} == {tab_a}


def test_memory_registry():
    registry = MemoryRegistry()
    _exercise(registry, registry)


def test_redis_registry_is_shared_between_workers():
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    first, second = RedisRegistry(REDIS_URL), RedisRegistry(REDIS_URL)
    try:
        _exercise(first, second)
    finally:
        keys = first._redis.keys("care:live:user:1*") + first._redis.keys("care:live:token:tab-*")
        if keys:
            first._redis.delete(*keys)
