"""Scaled out: a live event goes to the worker that holds each tab's websocket, and that
worker applies it.

Without this, the worker where a message was committed would apply the event to every
receiving tab itself: take the tab's lock in Redis, load and unpickle its state, save it
again, and hand the delta to the tab's own worker through Reflex's "lost and found" channel;
that worker, which also runs the tab's own events, would then load the whole state once more
for the tab's next event. Forwarded instead, the event is one small Redis message to the
owning worker, which applies it to a state it usually holds in memory (Reflex's opportunistic
lock, ``REFLEX_OPLOCK_ENABLED``: see ``care_messaging/scaleout.py``).

The message carries the event (a committed message's text among it), so it is sealed like
the tab states in Redis (AES-256-GCM under the app's key; ``crypto.live_forward_aad``) and
only opened after the seal verifies: nothing written into Redis by someone without the key
is ever unpickled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pickle
import time
from collections.abc import Callable, Iterable
from typing import Any

from care_messaging import crypto
from care_messaging.realtime.live_event import LiveEvent
from care_messaging.settings import get_settings

log = logging.getLogger(__name__)

# One tab to deliver to: (user id, client token, page state's full name).
Tab = tuple[int, str, str]
# What the owning worker does with a forwarded event for one of its tabs.
Deliver = Callable[[int, str, str, LiveEvent], None]

_AAD = crypto.live_forward_aad()
_client: Any = None


def channel(instance_id: str) -> str:
    """The Redis channel a worker (Reflex's token-manager instance id) listens on."""
    return f"care:live:deliver:{instance_id}"


def _redis() -> Any:
    global _client
    if _client is None:
        import redis.asyncio

        _client = redis.asyncio.Redis.from_url(get_settings().redis_url)
    return _client


def reset() -> None:
    """Forget the Redis client (tests switch settings between runs)."""
    global _client
    _client = None


def pack(event: LiveEvent, tabs: list[Tab]) -> bytes:
    """The sealed message for one worker: the event and which of its tabs it is for."""
    blob, key_id = crypto.encrypt(pickle.dumps((event, tabs), protocol=pickle.HIGHEST_PROTOCOL),
                                  aad=_AAD)
    # The envelope is no pickle: only what the seal vouches for is ever unpickled.
    named = key_id.encode()
    return len(named).to_bytes(2, "big") + named + blob


def unpack(raw: bytes) -> tuple[LiveEvent, list[Tab]]:
    """Open a sealed message; raises on anything not sealed under the app's key."""
    size = int.from_bytes(raw[:2], "big")
    key_id, blob = raw[2:2 + size].decode(), raw[2 + size:]
    event, tabs = pickle.loads(crypto.decrypt(blob, aad=_AAD, key_id=key_id))
    # ``created_at`` is the sending process's monotonic clock: on another machine it means
    # nothing, so the receiver stamps its own (later than the commit, which is what matters).
    return dataclasses.replace(event, created_at=time.monotonic()), tabs


async def send(instance_id: str, event: LiveEvent, tabs: list[Tab]) -> bool:
    """Hand ``event`` to the worker ``instance_id`` for ``tabs``; False when no worker of that
    id listens (it stopped: its tabs reconnect elsewhere and reload)."""
    return bool(await _redis().publish(channel(instance_id), pack(event, tabs)))


async def listen(instance_id: Callable[[], str], deliver: Deliver) -> None:
    """Apply every event forwarded to this worker, for as long as the app runs.

    ``instance_id`` is read again between messages: Reflex gives a worker its id when its
    event processor starts, which may be after this task.
    """
    while True:
        current = instance_id()
        pubsub = _redis().pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(channel(current))
            while instance_id() == current:
                message = await pubsub.get_message(timeout=1.0)
                if message is not None:
                    _apply(message.get("data"), deliver)
        except asyncio.CancelledError:
            raise
        except Exception:  # Redis restarted or unreachable: subscribe again shortly
            log.warning("live forwarding channel lost; subscribing again", exc_info=True)
            await asyncio.sleep(1.0)
        finally:
            try:
                await pubsub.aclose()
            except Exception:
                log.debug("closing the forwarding subscription failed", exc_info=True)


def _apply(raw: object, deliver: Deliver) -> None:
    if not isinstance(raw, bytes):
        return
    try:
        event, tabs = unpack(raw)
    except Exception:
        log.warning("a live message that does not open under the app's key was dropped")
        return
    for user_id, token, state_name in tabs:
        deliver(user_id, token, state_name, event)


def group_by_owner(targets: Iterable[Tab], owners: dict[str, str]) -> dict[str, list[Tab]]:
    """The tabs per owning worker (tabs without an open socket anywhere are left out)."""
    grouped: dict[str, list[Tab]] = {}
    for tab in targets:
        owner = owners.get(tab[1])
        if owner:
            grouped.setdefault(owner, []).append(tab)
    return grouped
