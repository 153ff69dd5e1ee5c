"""Scaled out, Reflex keeps each tab's state in Redis: none of it readable there (item 11)."""

from __future__ import annotations

import uuid

import reflex as rx

from tests.unit.test_realtime import REDIS_URL, require_redis


async def _store_and_read(manager_cls) -> tuple[list[bytes], list]:
    from redis.asyncio import Redis

    from care_messaging.care_messaging import app
    from care_messaging.pages.dashboard_state import DashboardState

    client = Redis.from_url(REDIS_URL)
    manager = manager_cls(redis=client)
    token = f"sealed-test-{uuid.uuid4().hex}"
    rows = [{"id": "1", "body": f"Biopsy result {uuid.uuid4().hex}: benign"}]
    state_token = rx.BaseStateToken(ident=token, cls=DashboardState)
    try:
        with app.set_contexts():
            async with manager.modify_state(state_token) as root:
                (await root.get_state(DashboardState)).messages = rows
            keys = await client.keys(f"{token}*")
            raw = [await client.get(k) for k in keys if b"_lock" not in k]
            loaded = await manager.get_state(state_token)
            again = (await loaded.get_state(DashboardState)).messages
            # The tab-owner mark came with the page's states (no second round trip).
            from care_messaging.state.tab_owner import TabOwnerState

            assert TabOwnerState.get_name() in loaded.substates
        return raw, [rows, again]
    finally:
        keys = await client.keys(f"{token}*")
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_tab_state_in_redis_is_sealed_and_reads_back():
    require_redis()
    from care_messaging.state.sealed_redis import SealedStateManagerRedis

    raw, (rows, again) = await _store_and_read(SealedStateManagerRedis)
    assert raw, "nothing was written to Redis: the check below would prove nothing"
    secret = rows[0]["body"].encode()
    assert not any(secret in value for value in raw)
    assert not any(b"dashboard_state" in value for value in raw)  # not even the vars' names
    assert again == rows


async def test_an_altered_sealed_state_is_dropped_not_loaded():
    """A value that fails authentication (altered, or sealed under another key) is never
    loaded: Reflex treats it like an outdated schema and the tab starts empty."""
    require_redis()
    import pickle

    from redis.asyncio import Redis

    from care_messaging.care_messaging import app
    from care_messaging.pages.dashboard_state import DashboardState
    from care_messaging.state import sealed_redis
    from care_messaging.state.sealed_redis import SealedStateManagerRedis, _Sealed

    client = Redis.from_url(REDIS_URL)
    manager = SealedStateManagerRedis(redis=client)
    token = f"sealed-test-{uuid.uuid4().hex}"
    state_token = rx.BaseStateToken(ident=token, cls=DashboardState)
    try:
        with app.set_contexts():
            async with manager.modify_state(state_token) as root:
                (await root.get_state(DashboardState)).messages = [{"id": "1", "body": "x"}]
            key = state_token._state_key(DashboardState)
            raw = await client.get(key)
            # Take the value apart (without opening it) and flip one ciphertext byte.
            captured = {}
            real_open = sealed_redis.open_sealed
            sealed_redis.open_sealed = lambda blob, key_id: captured.update(b=blob, k=key_id)
            try:
                pickle.loads(raw)
            finally:
                sealed_redis.open_sealed = real_open
            blob = bytearray(captured["b"])
            blob[20] ^= 1
            await client.set(key, pickle.dumps(_Sealed(bytes(blob), captured["k"])))
            loaded = await manager.get_state(state_token)
            assert (await loaded.get_state(DashboardState)).messages == []
    finally:
        keys = await client.keys(f"{token}*")
        if keys:
            await client.delete(*keys)
        await client.aclose()
