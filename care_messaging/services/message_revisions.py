"""What a message says now: its state (active, retracted, corrected) and current text.

The one place that tells a message's state (``message_state``): the thread, the lists'
previews, search and any export read it from here. A message row carries ``retracted_at`` and
``corrected_at`` (migration 0010), so the messages nobody changed need no query at all; only
changed ones read their revisions (``current_texts``). The original body is never altered:
it stays in ``messages.body_ct`` and the history (services/message_changes.py) shows it.

No import of services/message_views.py (which imports this module to build its views).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import MessageRevision, MessageRevisionKind

log = logging.getLogger(__name__)

RETRACTED_TEXT = "Message retracted by the sender"
TAMPERED_REVISION = "This correction could not be verified and is hidden."


class MessageState(StrEnum):
    """A message's state. In a FHIR export (``fhir_mapping.MESSAGE_STATUS``): RETRACTED and
    the original of a CORRECTED message map to ``entered-in-error``; ACTIVE and the latest
    correction to ``completed``."""

    ACTIVE = "active"
    RETRACTED = "retracted"
    CORRECTED = "corrected"


def message_state(message: object) -> MessageState:
    """The state of a message row (or any record with ``retracted_at``/``corrected_at``; a
    record without them, such as a message just stored, is active). A retraction wins over an
    earlier correction: once retracted, nothing of it is shown."""
    if getattr(message, "retracted_at", None) is not None:
        return MessageState.RETRACTED
    if getattr(message, "corrected_at", None) is not None:
        return MessageState.CORRECTED
    return MessageState.ACTIVE


@dataclass(frozen=True)
class Current:
    """What a changed message shows instead of its original body."""

    state: MessageState
    body: str
    changed_at: datetime | None


def decrypt_revision(revision: MessageRevision) -> tuple[str, bool]:
    """A correction's text, or a fixed notice when its ciphertext fails authentication."""
    if revision.body_ct is None:
        return "", False
    aad = crypto.revision_aad(revision.conversation_id, revision.message_id,
                              revision.revision_no, revision.editor_user_id)
    try:
        return crypto.decrypt_text(revision.body_ct, aad=aad, key_id=revision.key_id), False
    except crypto.TamperedDataError:
        log.error("message revision %s failed authentication", revision.id)
        return TAMPERED_REVISION, True


_LATEST_CORRECTIONS = (
    select(MessageRevision)
    .where(col(MessageRevision.message_id).in_(bindparam("ids", expanding=True)),
           MessageRevision.kind == MessageRevisionKind.CORRECT)
    .order_by(col(MessageRevision.message_id), col(MessageRevision.revision_no))
)


def current_texts(session: Session, messages: list[Any]) -> dict[int, Current]:
    """For each changed message among ``messages`` (by id): its state and what it shows now.
    Unchanged messages are absent (and cost nothing)."""
    out: dict[int, Current] = {}
    corrected: list[int] = []
    for m in messages:
        state = message_state(m)
        if state == MessageState.RETRACTED:
            out[m.id] = Current(state, RETRACTED_TEXT, m.retracted_at)
        elif state == MessageState.CORRECTED:
            corrected.append(m.id)
    if corrected:
        latest: dict[int, MessageRevision] = {}
        for revision in session.exec(_LATEST_CORRECTIONS, params={"ids": corrected}).all():
            latest[revision.message_id] = revision  # ordered: the last one wins
        for message_id, revision in latest.items():
            out[message_id] = Current(MessageState.CORRECTED, decrypt_revision(revision)[0],
                                      revision.created_at)
    return out
