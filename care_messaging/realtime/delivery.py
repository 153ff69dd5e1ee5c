"""Moving a live event into tabs: phase one on each tab at once, the rest as one coalesced
follow-up per tab (run via ``app.modify_state``, which sends the delta over the tab's
websocket)."""

from __future__ import annotations

import asyncio
import logging
import random
import time

import reflex as rx

from care_messaging.realtime import connections, forwarding, registry
from care_messaging.realtime.live_event import LiveEvent, LiveKind
from care_messaging.settings import get_settings

log = logging.getLogger(__name__)


async def _deliver(user_id: int, token: str, state_name: str, event: LiveEvent, *,
                   connected: bool | None = None) -> None:
    """Phase one: the tab shows what is urgent (a new message in its open thread) at once.

    The page's ``apply_live_event`` does only that and returns True when the rest
    (marking delivered and read, header, receipts, the list and counters) is needed; that rest
    runs as a coalesced follow-up (``schedule_follow_up``), so a burst of messages costs one
    refresh and one delivered mark per tab instead of one per message, and never delays the
    next message. A receipt has nothing urgent: it goes straight to the follow-up.
    """
    app = connections.app()
    if connected is None:
        connected = await connections.is_connected(app, token)
    if not connected:
        await registry.unregister(client_token=token)
        return
    state_cls = connections.state_class(state_name)
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
        state_cls = connections.state_class(state_name)
        if not events or state_cls is None or not await connections.is_tab_connected(token):
            return
        try:
            async with connections.app().modify_state(rx.BaseStateToken(ident=token, cls=state_cls)) as root:
                state = await root.get_state(state_cls)
                await state_cls.after_live_events(state, events)
        except Exception:
            log.exception("live follow-up for a tab failed")

    spawn(run())


async def follow_up_own_send(state, event: LiveEvent) -> None:
    """After a tab's own send: its header, receipts and list follow like a live event's
    (coalesced with the others for this tab); a tab without a live socket gets them now."""
    token = state.router.session.client_token
    if token and connections.app().event_namespace is not None and await connections.is_tab_connected(token):
        schedule_follow_up(token=token, state_name=type(state).get_full_name(), event=event,
                           user_id=event.actor_user_id)
    else:
        await type(state).after_live_events(state, [event])


def spawn(coroutine) -> None:
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
    if connections.app().event_namespace is None:  # no running server (unit tests)
        return
    spawn(publish(event, user_ids=user_ids, exclude_token=exclude_token))


async def publish(event: LiveEvent, *, user_ids: list[int] | tuple[int, ...],
                  exclude_token: str = "") -> int:
    """Push ``event`` to every registered tab of ``user_ids``; returns how many were started
    (one registry round trip for all the users, one for where their sockets are).

    Scaled out, a tab whose socket is on another worker gets the event through that worker
    (``forwarding``): the worker that runs the tab's own events applies it too.
    """
    if connections.app().event_namespace is None:
        return 0
    app = connections.app()
    targets, owners = await _audience(app, list(user_ids))
    targets = [t for t in targets if t[1] != exclude_token]
    here = connections.own_instance_id()
    for user_id, token, state_name in targets:
        if token not in owners:  # no socket anywhere: forget the tab
            spawn(_deliver(user_id, token, state_name, event, connected=False))
    for owner, tabs in forwarding.group_by_owner(targets, owners).items():
        if owner and owner != here and await _forward(owner, event, tabs):
            continue
        for user_id, token, state_name in tabs:
            spawn(_deliver(user_id, token, state_name, event, connected=True))
    return len(targets)


async def _audience(app, user_ids: list[int]
                    ) -> tuple[list[tuple[int, str, str]], dict[str, str]]:
    """The users' registered tabs and the worker holding each one's socket (``owners``).
    Scaled out, both come from one Redis round trip (``targets_with_sockets``)."""
    found = registry.get_registry()
    prefix = connections.socket_record_prefix(app)
    with_sockets = getattr(found, "targets_with_sockets", None)
    if with_sockets is not None and prefix:
        tabs = await with_sockets(user_ids, prefix)
        owners = connections.owners_from_records(app, {t: record for _, t, _, record in tabs})
        return [(u, t, s) for u, t, s, _ in tabs], owners
    targets = await found.targets(user_ids)
    return targets, await connections.owners(app, [t[1] for t in targets])


async def _forward(owner: str, event: LiveEvent, tabs: list[forwarding.Tab]) -> bool:
    """Hand the event to the worker holding these tabs; False when that failed, and the
    tabs are then served from here (Reflex routes the delta to their socket)."""
    try:
        return await forwarding.send(owner, event, tabs)
    except Exception:
        log.warning("forwarding a live event failed: delivering from this worker", exc_info=True)
        return False


def deliver_forwarded(user_id: int, token: str, state_name: str, event: LiveEvent) -> None:
    """An event another worker forwarded for one of this worker's tabs."""
    spawn(_deliver(user_id, token, state_name, event))


async def listen_for_forwarded() -> None:
    """Lifespan task, scaled out: apply the events other workers forward to this one."""
    if not get_settings().redis_url:
        return
    await forwarding.listen(connections.own_instance_id, deliver_forwarded)
