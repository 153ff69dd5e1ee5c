"""Scaled out, a live event is handed to the worker holding the tab's socket, sealed."""

from __future__ import annotations

import asyncio
import pickle
import uuid
from datetime import UTC, datetime

import pytest

from care_messaging import crypto
from care_messaging.realtime import forwarding
from care_messaging.realtime.live_event import LiveEvent, LiveKind
from care_messaging.services.message_views import MessageView
from tests.unit.test_realtime import REDIS_URL, require_redis

SECRET = "Biopsy came back benign"
_opened: list[str] = []


def _record_opened(text: str) -> None:
    """What a hostile pickle in the channel would call if it were ever loaded."""
    _opened.append(text)


def _event(text: str = SECRET) -> LiveEvent:
    message = MessageView(id=7, seq=3, conversation_id=11, sender_user_id=5,
                          sender_name="Maria Garcia", sender_role="patient", body=text,
                          created_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
                          client_msg_id="c-1")
    return LiveEvent(kind=LiveKind.MESSAGE, conversation_id=11, patient_id=2, actor_user_id=5,
                     seq=3, message=message)


def test_a_forwarded_event_is_sealed_and_opens_whole():
    tabs = [(9, "tab-1", "reflex___state____state.dashboard_state")]
    packed = forwarding.pack(_event(), tabs)
    assert SECRET.encode() not in packed and b"Maria" not in packed
    event, opened_tabs = forwarding.unpack(packed)
    assert opened_tabs == tabs
    assert event == _event() and event.message == _event().message


def test_an_altered_or_foreign_message_is_refused():
    packed = bytearray(forwarding.pack(_event(), []))
    packed[-1] ^= 1
    with pytest.raises(crypto.TamperedDataError):
        forwarding.unpack(bytes(packed))
    # Sealed under the app's key but for another purpose (a tab state): not a live message.
    blob, key_id = crypto.encrypt(pickle.dumps((_event(), [])), aad=crypto.reflex_state_aad())
    with pytest.raises(crypto.TamperedDataError):
        forwarding.unpack(len(key_id).to_bytes(2, "big") + key_id.encode() + blob)


def test_a_pickle_put_into_the_channel_is_never_loaded():
    """Someone who can publish into Redis but lacks the key gets nothing run: the envelope
    is not a pickle, and only what the seal vouches for is unpickled."""

    class Hostile:
        def __reduce__(self):
            return _record_opened, ("loaded",)

    delivered: list[object] = []
    forwarding._apply(pickle.dumps((_event(), [(1, "t", "s")])), lambda *a: delivered.append(a))
    forwarding._apply(pickle.dumps(Hostile()), lambda *a: delivered.append(a))
    assert _opened == [] and delivered == []


def test_tabs_are_grouped_by_the_worker_holding_them():
    tabs = [(1, "a", "s"), (1, "b", "s"), (2, "c", "s"), (3, "gone", "s")]
    owners = {"a": "w1", "b": "w2", "c": "w1"}
    assert forwarding.group_by_owner(tabs, owners) == {
        "w1": [(1, "a", "s"), (2, "c", "s")], "w2": [(1, "b", "s")]}


async def test_an_event_reaches_the_listening_worker_through_redis(monkeypatch):
    require_redis()
    import redis.asyncio

    monkeypatch.setattr(forwarding, "_client", redis.asyncio.Redis.from_url(REDIS_URL))
    instance = f"test-{uuid.uuid4().hex}"
    got: asyncio.Queue = asyncio.Queue()
    listener = asyncio.create_task(forwarding.listen(
        lambda: instance, lambda *delivery: got.put_nowait(delivery)))
    try:
        tabs = [(9, "tab-1", "state.dashboard_state"), (9, "tab-2", "state.dashboard_state")]
        for _ in range(50):  # until the subscription is in place
            if await forwarding.send(instance, _event(), tabs):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the listener never subscribed")
        first = await asyncio.wait_for(got.get(), 5)
        second = await asyncio.wait_for(got.get(), 5)
        assert [first[:3], second[:3]] == [tab for tab in tabs]
        assert first[3].message.body == SECRET
        # A worker that is gone listens no more: the sender learns it and serves the tab.
        assert await forwarding.send(f"gone-{uuid.uuid4().hex}", _event(), tabs) is False
    finally:
        listener.cancel()
        with pytest.raises(asyncio.CancelledError):
            await listener
        await forwarding._client.aclose()
