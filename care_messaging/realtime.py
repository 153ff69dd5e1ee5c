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
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import pickle
import random
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import reflex as rx

from care_messaging.services import events as domain
from care_messaging.settings import get_settings

if TYPE_CHECKING:
    from care_messaging.services.message_views import MessageView

log = logging.getLogger(__name__)

REGISTRATION_TTL_SECONDS = 6 * 60 * 60


class LiveKind(StrEnum):
    """What a live event is on an open screen (several domain kinds map to one: _LIVE_KIND)."""

    MESSAGE = "message"
    MESSAGE_CHANGED = "message_changed"  # retracted or corrected
    CONVERSATION = "conversation"  # created, status, priority, assignment
    RECEIPT = "receipt"  # delivered or read
    TYPING = "typing"
    NOTE = "note"  # a staff-only note (no text in the event)


@dataclass(frozen=True)
class LiveEvent:
    """What changed (``kind``: a ``LiveKind``; a plain string of one is taken too).

    A message event carries the stored message itself: it was just committed, and the users
    it is published to are the conversation's participants as read in that same transaction,
    so a receiving tab whose open thread is exactly one message behind shows it without
    querying. ``created_at`` (this process's monotonic clock, taken after the commit) lets a
    follow-up reuse list and counter figures computed after it.
    """

    kind: LiveKind
    conversation_id: int = 0
    patient_id: int = 0
    actor_user_id: int = 0
    seq: int = 0
    label: str = ""
    message: MessageView | None = field(default=None, compare=False, repr=False)
    created_at: float = field(default_factory=time.monotonic, compare=False)

    def __post_init__(self) -> None:
        # An unknown kind fails here, where it is made, not in a tab's handler later.
        object.__setattr__(self, "kind", LiveKind(self.kind))


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


def _app():
    from care_messaging.care_messaging import app

    return app


async def _is_connected(app, token: str) -> bool:
    """Whether a tab's websocket is open on some worker.

    A closed tab's state lingers in the state manager; running the page's live handler on it
    would mark messages delivered or read that nobody saw. Reflex keeps the token -> socket
    map on its token manager (locally, and in Redis when scaled out).
    """
    manager = getattr(app.event_namespace, "_token_manager", None)
    if manager is None:  # an unknown Reflex internals layout: deliver rather than drop
        return True
    if token in manager.token_to_socket:
        return True
    owner = getattr(manager, "_get_token_owner", None)
    return owner is not None and await owner(token, refresh=True) is not None


async def _connected(app, tokens: list[str]) -> set[str]:
    """Which of these tabs have an open websocket on some worker, in one Redis round trip
    (an MGET of Reflex's socket records) instead of one per tab."""
    manager = getattr(app.event_namespace, "_token_manager", None)
    if manager is None:
        return set(tokens)
    here = {t for t in tokens if t in manager.token_to_socket}
    elsewhere = [t for t in tokens if t not in here]
    redis = getattr(manager, "redis", None)
    key = getattr(manager, "_get_redis_key", None)
    if not elsewhere or redis is None or key is None:
        return here
    try:
        records = await redis.mget([key(t) for t in elsewhere])
    except Exception:
        log.warning("socket records unavailable: checking tabs one by one", exc_info=True)
        return here | {t for t in elsewhere if await _is_connected(app, t)}
    # A record naming this worker without a local socket is a leftover of a closed one
    # (Reflex's own reading of these records, _fetch_socket_record).
    own = getattr(manager, "instance_id", None)
    alive = set()
    for token, raw in zip(elsewhere, records, strict=True):
        if raw and getattr(pickle.loads(raw), "instance_id", None) != own:
            alive.add(token)
    return here | alive


async def is_tab_connected(token: str) -> bool:
    """Whether this browser tab still has a live websocket (on any worker)."""
    app = _app()
    return app.event_namespace is not None and await _is_connected(app, token)


def _state_class(state_name: str):
    try:
        return rx.State.get_class_substate(tuple(state_name.split(".")[1:]))
    except ValueError:
        return None


async def _deliver(user_id: int, token: str, state_name: str, event: LiveEvent, *,
                   connected: bool | None = None) -> None:
    """Phase one: the tab shows what is urgent (a new message in its open thread) at once.

    The page's ``apply_live_event`` does only that and returns True when the rest
    (marking delivered and read, header, receipts, the list and counters) is needed; that rest
    runs as a coalesced follow-up (``schedule_follow_up``), so a burst of messages costs one
    refresh and one delivered mark per tab instead of one per message, and never delays the
    next message. A receipt has nothing urgent: it goes straight to the follow-up.
    """
    app = _app()
    if connected is None:
        connected = await _is_connected(app, token)
    if not connected:
        await unregister(client_token=token)
        return
    state_cls = _state_class(state_name)
    if state_cls is None:
        return
    if event.kind == LiveKind.RECEIPT:
        schedule_follow_up(token=token, state_name=state_name, event=event, user_id=user_id)
        return
    try:
        async with app.modify_state(rx.BaseStateToken(ident=token, cls=state_cls)) as root:
            state = await root.get_state(state_cls)
            needs_follow_up = await state_cls.apply_live_event(state, event)
    except Exception:  # one broken tab must never stop delivery to the others
        log.exception("live delivery to a tab failed")
        return
    if needs_follow_up:
        schedule_follow_up(token=token, state_name=state_name, event=event, user_id=user_id)


_pending: set[asyncio.Task] = set()  # strong references: tasks must not be collected early
# Follow-ups not yet started, by tab token: later events join the waiting one.
_follow_ups: dict[str, list[LiveEvent]] = {}
# When each tab's last follow-up started (monotonic seconds).
_last_follow_up: dict[str, float] = {}
FOLLOW_UP_DELAY_SECONDS = 0.005
# A tab refreshes its list and counters at most this often: the first event of a quiet spell
# is followed up at once, a burst is folded into one refresh per interval.
FOLLOW_UP_MIN_INTERVAL_SECONDS = 1.0
# A tab whose last refresh folded a real burst (several events) refreshes at most this often
# while the burst lasts: the messages themselves still arrive at once (phase one).
FOLLOW_UP_BURST_INTERVAL_SECONDS = 2.0
FOLLOW_UP_BURST_EVENTS = 3
FOLLOW_UP_JITTER_SECONDS = 0.25
# How many events each tab's last follow-up folded.
_last_batch: dict[str, int] = {}


def schedule_follow_up(*, token: str, state_name: str, event: LiveEvent,
                       user_id: int = 0) -> None:
    """Run the page's ``after_live_events`` for this tab soon, once for a burst (``user_id``
    is the tab's user; the page records what it received through the services)."""
    waiting = _follow_ups.get(token)
    if waiting is not None:
        waiting.append(event)
        return
    _follow_ups[token] = [event]
    now = time.monotonic()
    interval = (FOLLOW_UP_BURST_INTERVAL_SECONDS
                if _last_batch.get(token, 0) >= FOLLOW_UP_BURST_EVENTS
                else FOLLOW_UP_MIN_INTERVAL_SECONDS)
    delay = max(FOLLOW_UP_DELAY_SECONDS, _last_follow_up.get(token, 0.0) + interval - now)
    if delay > FOLLOW_UP_DELAY_SECONDS:
        # Coalescing: spread the tabs' refreshes over the interval, so tabs that started
        # together do not all refresh in the same instant and stall the messages behind them.
        delay += random.uniform(0, FOLLOW_UP_JITTER_SECONDS)
    if len(_last_follow_up) > 10_000:  # forget tabs that have been quiet for a minute
        for stale in [t for t, at in _last_follow_up.items() if now - at > 60]:
            _last_follow_up.pop(stale, None)
            _last_batch.pop(stale, None)

    async def run() -> None:
        await asyncio.sleep(delay)
        events = _follow_ups.pop(token, [])
        _last_follow_up[token] = time.monotonic()
        _last_batch[token] = len(events)
        state_cls = _state_class(state_name)
        if not events or state_cls is None or not await is_tab_connected(token):
            return
        try:
            async with _app().modify_state(rx.BaseStateToken(ident=token, cls=state_cls)) as root:
                state = await root.get_state(state_cls)
                await state_cls.after_live_events(state, events)
        except Exception:
            log.exception("live follow-up for a tab failed")

    _spawn(run())


async def follow_up_own_send(state, event: LiveEvent) -> None:
    """After a tab's own send: its header, receipts and list follow like a live event's
    (coalesced with the others for this tab); a tab without a live socket gets them now."""
    token = state.router.session.client_token
    if token and _app().event_namespace is not None and await is_tab_connected(token):
        schedule_follow_up(token=token, state_name=type(state).get_full_name(), event=event,
                           user_id=event.actor_user_id)
    else:
        await type(state).after_live_events(state, [event])


def _spawn(coroutine) -> None:
    task = asyncio.create_task(coroutine)
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def publish_now(event: LiveEvent, *, user_ids: list[int] | tuple[int, ...],
                exclude_token: str = "") -> None:
    """Push ``event`` to every registered tab of ``user_ids`` (on the running loop).

    The lookup and the deliveries run as a task, so the caller (a handler holding its own
    state lock, or a commit) returns at once; the tab that made the change is skipped via
    ``exclude_token``.
    """
    if _app().event_namespace is None:  # no running server (unit tests)
        return
    _spawn(publish(event, user_ids=user_ids, exclude_token=exclude_token))


async def publish(event: LiveEvent, *, user_ids: list[int] | tuple[int, ...],
                  exclude_token: str = "") -> int:
    """Push ``event`` to every registered tab of ``user_ids``; returns how many were started
    (one registry round trip for all the users)."""
    if _app().event_namespace is None:
        return 0
    app = _app()
    targets = [t for t in await get_registry().targets(list(user_ids)) if t[1] != exclude_token]
    connected = await _connected(app, [t[1] for t in targets])
    for user_id, token, state_name in targets:
        _spawn(_deliver(user_id, token, state_name, event, connected=token in connected))
    return len(targets)


# What each committed domain event is on a live screen.
_LIVE_KIND = {
    domain.Kind.MESSAGE_SENT: LiveKind.MESSAGE,
    domain.Kind.MESSAGE_CHANGED: LiveKind.MESSAGE_CHANGED,  # retracted or corrected
    domain.Kind.CONVERSATION_CREATED: LiveKind.CONVERSATION,
    domain.Kind.CONVERSATION_CHANGED: LiveKind.CONVERSATION,
    domain.Kind.READ: LiveKind.RECEIPT,  # the senders' "Delivered" turns into "Read <time>"
    domain.Kind.DELIVERED: LiveKind.RECEIPT,  # the senders' "Sent" turns into "Delivered"
    # The header and list say who is handling it.
    domain.Kind.ASSIGNED: LiveKind.CONVERSATION,
    # The event names only the team's providers and holds no text: their tabs reload the
    # notes through the access-checked service (state/internal_notes.py).
    domain.Kind.NOTE_ADDED: LiveKind.NOTE,
}
_CARRIES_MESSAGE = {domain.Kind.MESSAGE_SENT, domain.Kind.MESSAGE_CHANGED}
_loop: asyncio.AbstractEventLoop | None = None


def on_domain_events(batch: list[domain.DomainEvent]) -> None:
    """The live consumer of committed domain events (registered by the app): each goes to
    the connected tabs of the users it concerns. Called in the committing thread; a commit
    off the event loop (a job thread) hands the deliveries to the loop."""
    # A new conversation's first message reaches the others as the new conversation.
    created = {e.conversation_id for e in batch if e.kind == domain.Kind.CONVERSATION_CREATED}
    live = [(LiveEvent(kind=_LIVE_KIND[e.kind], conversation_id=e.conversation_id,
                       patient_id=e.patient_id, actor_user_id=e.actor_user_id, seq=e.seq,
                       message=e.message if e.kind in _CARRIES_MESSAGE else None), e)
            for e in batch if e.kind in _LIVE_KIND
            and not (e.kind == domain.Kind.MESSAGE_SENT and e.conversation_id in created)]
    if not live:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        if _loop is not None and not _loop.is_closed():
            for event, source in live:
                _loop.call_soon_threadsafe(functools.partial(
                    publish_now, event, user_ids=source.user_ids, exclude_token=source.origin))
        return
    for event, source in live:
        publish_now(event, user_ids=source.user_ids, exclude_token=source.origin)


async def remember_loop() -> None:
    """Lifespan task: the app's event loop, for commits made on other threads."""
    global _loop
    _loop = asyncio.get_running_loop()


TYPING_IDLE_SECONDS = 5.0
_typing_generation: dict[tuple[int, int], int] = {}
# One counter for every spell: a spell that a sent message ended (stop_typing) and the next one
# must never share a number, or the old spell's timer would clear the new one's indicator.
_typing_spells = itertools.count(1)


async def publish_typing(*, conversation_id: int, patient_id: int, actor_user_id: int,
                         label: str, user_ids: list[int] | tuple[int, ...],
                         exclude_token: str = "") -> None:
    """Tell the other participants someone is typing; clear it after a quiet spell.

    Each call restarts the timer for (conversation, typist): only the newest one sends the
    "stopped typing" event (an empty label), so the indicator clears on its own.
    """
    key = (conversation_id, actor_user_id)
    generation = next(_typing_spells)
    _typing_generation[key] = generation
    event = LiveEvent(kind=LiveKind.TYPING, conversation_id=conversation_id, patient_id=patient_id,
                      actor_user_id=actor_user_id, label=label)
    others = [u for u in user_ids if u != actor_user_id]
    await publish(event, user_ids=others, exclude_token=exclude_token)

    async def clear_later() -> None:
        await asyncio.sleep(TYPING_IDLE_SECONDS)
        if _typing_generation.get(key) == generation:
            _typing_generation.pop(key, None)
            await publish(
                LiveEvent(kind=LiveKind.TYPING, conversation_id=conversation_id, patient_id=patient_id,
                          actor_user_id=actor_user_id, label=""),
                user_ids=others,
            )

    _spawn(clear_later())


def stop_typing(*, conversation_id: int, actor_user_id: int) -> None:
    """A sent message ends the typing spell (receivers clear the label on the message)."""
    _typing_generation.pop((conversation_id, actor_user_id), None)
