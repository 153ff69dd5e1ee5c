"""The "is typing…" indicator: a spell per (conversation, typist) that clears on its own
after a quiet spell, or when a message is sent."""

from __future__ import annotations

import asyncio
import itertools

from care_messaging.realtime.delivery import publish, spawn
from care_messaging.realtime.live_event import LiveEvent, LiveKind

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

    spawn(clear_later())


def stop_typing(*, conversation_id: int, actor_user_id: int) -> None:
    """A sent message ends the typing spell (receivers clear the label on the message)."""
    _typing_generation.pop((conversation_id, actor_user_id), None)
