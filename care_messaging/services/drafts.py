"""Drafts: a user's unsent reply text, kept on the server per user and conversation.

A clinician interrupted mid-reply finds the text again in another tab or on another device.
The text is PHI like a message: AES-GCM ciphertext bound to (user, conversation)
(``crypto.draft_aad``), so a draft copied to another user's or conversation's row does not
decrypt. Only its writer ever reads it. Sending in a conversation deletes the sender's draft
there in the send's own transaction (``clear``, called by services/message_sending.py).

No import of services/message_sending.py (which imports this module).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, exists
from sqlmodel import Session, col

from care_messaging import crypto
from care_messaging.models import Conversation, MessageDraft, table_of, utcnow
from care_messaging.services import audit
from care_messaging.services.access import access_conversation
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Outcome
from care_messaging.services.errors import ValidationError
from care_messaging.services.hot_sql import HotStatement

MAX_DRAFT_CHARS = 5000  # the composer's limit (services/message_sending.MAX_BODY_CHARS)


class DraftAction:
    SAVE = "draft_save"
    CLEAR = "draft_clear"


@dataclass(frozen=True)
class DraftSaved:
    """``listed_changed``: the conversation gained or lost its draft (the list's "Draft")."""

    has_draft: bool
    listed_changed: bool


def save_draft(session: Session, *, actor: Actor, conversation_id: int, body: str) -> DraftSaved:
    """Keep ``body`` as the actor's draft in a conversation they can see (blank deletes it)."""
    if not isinstance(body, str):
        raise ValidationError("A draft must be text.")
    if len(body) > MAX_DRAFT_CHARS:
        raise ValidationError(f"Messages can be at most {MAX_DRAFT_CHARS} characters.")
    conversation = access_conversation(session, actor=actor, conversation_id=conversation_id,
                                       action=DraftAction.SAVE)
    existing = session.get(MessageDraft, (actor.user_id, conversation.id))
    if not body.strip():
        if existing is not None:
            session.delete(existing)
        _audit(session, actor, conversation, DraftAction.CLEAR)
        return DraftSaved(False, existing is not None)
    ciphertext, key_id = crypto.encrypt_text(
        body, aad=crypto.draft_aad(actor.user_id, conversation.id or 0))
    draft = existing or MessageDraft(user_id=actor.user_id, conversation_id=conversation.id or 0,
                                     body_ct=ciphertext, key_id=key_id)
    draft.body_ct, draft.key_id, draft.updated_at = ciphertext, key_id, utcnow()
    session.add(draft)
    _audit(session, actor, conversation, DraftAction.SAVE)
    return DraftSaved(True, existing is None)


def _audit(session: Session, actor: Actor, conversation: Conversation, action: str) -> None:
    # Never the text: who, which conversation, when.
    audit.record(session, actor=actor, action=action, outcome=Outcome.SUCCESS,
                 object_type="conversation", object_id=conversation.id or "",
                 patient_id=conversation.patient_id)


def draft_text(session: Session, *, actor: Actor, conversation_id: int) -> str:
    """The actor's draft in a conversation whose access the caller has already checked
    ("" when none, or when it fails to verify: a draft is never worth an error)."""
    draft = session.get(MessageDraft, (actor.user_id, conversation_id))
    if draft is None:
        return ""
    try:
        return crypto.decrypt_text(draft.body_ct, key_id=draft.key_id,
                                   aad=crypto.draft_aad(actor.user_id, conversation_id))
    except crypto.TamperedDataError:
        return ""


def has_draft(user_id: Any) -> ColumnElement[bool]:
    """A list query's column: whether ``user_id`` (a value or a bound parameter) keeps a draft
    in the row's conversation (one index probe per row, no query of its own)."""
    return exists().where(MessageDraft.user_id == user_id,
                          col(MessageDraft.conversation_id) == Conversation.id)


_CLEAR = HotStatement(delete(table_of(MessageDraft)).where(
    table_of(MessageDraft).c.user_id == bindparam("b_user"),
    table_of(MessageDraft).c.conversation_id == bindparam("b_conversation")))


def clear(session: Session, *, user_id: int, conversation_id: int) -> None:
    """The user sent in this conversation: their draft there is gone (same transaction)."""
    _CLEAR.execute(session, {"b_user": user_id, "b_conversation": conversation_id})
