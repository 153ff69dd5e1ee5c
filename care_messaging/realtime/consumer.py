"""The live consumer of committed domain events: each becomes a ``LiveEvent`` for the users it
concerns, handed to delivery on the app's event loop."""

from __future__ import annotations

import asyncio
import functools

from care_messaging.realtime.delivery import publish_now
from care_messaging.realtime.live_event import LiveEvent, LiveKind
from care_messaging.services import events as domain

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
