"""Live delivery: who is connected, and moving committed changes into their tabs.

Transport only: it writes nothing to the database and knows no page's internals. The services
record domain events in their transactions (services/events.py); ``on_domain_events``, an
after-commit consumer, turns each into a ``LiveEvent`` for the users it concerns, and every
registered tab of those users (but the tab that made the change) gets it through the page
state's public live interface (``apply_live_event``, then a coalesced ``after_live_events``),
run via ``app.modify_state``, which sends the resulting delta over that tab's websocket.

Single process (default): the registry is a dict in memory. Scale-out: with a Redis URL the
registry lives in Redis, so any worker can find every tab; Reflex's Redis state manager and
token manager then route the delta to the worker that holds the tab's socket.

The package, by concern: live_event.py (what a tab is sent), registry.py (which tabs are open
for which user, in memory or in Redis), connections.py (whether a tab's websocket is still
open, on any worker), delivery.py (moving an event into tabs: phase one, coalesced
follow-ups), consumer.py (committed domain events -> live events), typing_indicator.py
("is typing…" spells). This module names the public API the app and tests use.
"""

from care_messaging.realtime.connections import is_tab_connected
from care_messaging.realtime.consumer import on_domain_events, remember_loop
from care_messaging.realtime.delivery import (
    follow_up_own_send,
    listen_for_forwarded,
    publish,
    publish_now,
    schedule_follow_up,
)
from care_messaging.realtime.live_event import LiveEvent, LiveKind
from care_messaging.realtime.registry import (
    MemoryRegistry,
    RedisRegistry,
    Registry,
    get_registry,
    register,
    reset_registry,
    unregister,
)
from care_messaging.realtime.typing_indicator import publish_typing, stop_typing

__all__ = [
    "LiveEvent",
    "LiveKind",
    "MemoryRegistry",
    "RedisRegistry",
    "Registry",
    "follow_up_own_send",
    "get_registry",
    "is_tab_connected",
    "listen_for_forwarded",
    "on_domain_events",
    "publish",
    "publish_now",
    "publish_typing",
    "register",
    "remember_loop",
    "reset_registry",
    "schedule_follow_up",
    "stop_typing",
    "unregister",
]
