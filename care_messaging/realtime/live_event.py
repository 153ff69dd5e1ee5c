"""What a tab is sent: a live event and its kind (several domain kinds map to one kind)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from care_messaging.services.message_views import MessageView


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
