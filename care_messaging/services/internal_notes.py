"""Staff-only notes inside a conversation: written and read by its care team's providers only.

A note never reaches a patient: it lives in its own table (``internal_notes``), so nothing
that reads messages (the thread, the list preview, unread counts, search, the notification
emails) can pick one up; its domain event names only the team's providers and carries no
text; and every read and write goes through ``access_team_conversation``, which refuses a
patient (even on their own conversation) exactly as it refuses a conversation that does not
exist. The text is AES-GCM ciphertext bound to (conversation, note id, author).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import InternalNote, User, utcnow
from care_messaging.services import audit, events
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.care_team import access_team_conversation, team_user_ids
from care_messaging.services.errors import ValidationError

log = logging.getLogger(__name__)

MAX_NOTE_CHARS = 2000
MAX_NOTES_SHOWN = 100
TAMPERED_NOTE = "This note could not be verified and is not shown."


@dataclass(frozen=True)
class NoteView:
    id: int
    conversation_id: int
    author_user_id: int
    author_name: str
    body: str
    created_at: datetime


def _decrypt(note: InternalNote) -> str:
    try:
        return crypto.decrypt_text(note.body_ct, key_id=note.key_id, aad=crypto.note_aad(
            note.conversation_id, note.id or 0, note.author_user_id))
    except crypto.TamperedDataError:
        log.error("internal note %s failed authentication", note.id)
        return TAMPERED_NOTE


def _validate(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ValidationError("Write the note before adding it.")
    text = body.strip()
    if len(text) > MAX_NOTE_CHARS:
        raise ValidationError(f"Notes can be at most {MAX_NOTE_CHARS} characters.")
    return text


def add_note(session: Session, *, actor: Actor, conversation_id: int, body: str) -> NoteView:
    """Store a note from a provider on the conversation's care team (audited without its
    text); the team's other tabs hear of it after the commit."""
    conversation = access_team_conversation(session, actor=actor,
                                            conversation_id=conversation_id,
                                            action=Action.NOTE_ADD)
    text = _validate(body)
    note = InternalNote(conversation_id=conversation.id or 0, author_user_id=actor.user_id,
                        body_ct=b"", key_id="", created_at=utcnow())
    session.add(note)
    session.flush()  # the id the ciphertext is bound to
    note.body_ct, note.key_id = crypto.encrypt_text(text, aad=crypto.note_aad(
        note.conversation_id, note.id or 0, actor.user_id))
    session.add(note)
    audit.record(session, actor=actor, action=Action.NOTE_ADD, outcome=Outcome.SUCCESS,
                 object_type="internal_note", object_id=note.id or "",
                 patient_id=conversation.patient_id,
                 detail=f"conversation {conversation.id}")
    events.record(session, events.DomainEvent(
        kind=events.Kind.NOTE_ADDED, conversation_id=conversation.id or 0,
        patient_id=conversation.patient_id, actor_user_id=actor.user_id,
        user_ids=team_user_ids(session, conversation.patient_id)))
    return NoteView(id=note.id or 0, conversation_id=note.conversation_id,
                    author_user_id=actor.user_id, author_name=actor.display_name, body=text,
                    created_at=note.created_at)


def list_notes(session: Session, *, actor: Actor, conversation_id: int,
               limit: int = MAX_NOTES_SHOWN) -> list[NoteView]:
    """The conversation's newest notes, oldest first, for its care team (the read audited)."""
    conversation = access_team_conversation(session, actor=actor,
                                            conversation_id=conversation_id,
                                            action=Action.NOTE_VIEW)
    rows = session.exec(
        select(InternalNote, User.display_name)
        .join(User, col(User.id) == InternalNote.author_user_id)
        .where(InternalNote.conversation_id == conversation.id)
        .order_by(col(InternalNote.created_at).desc(), col(InternalNote.id).desc())
        .limit(max(1, min(int(limit), MAX_NOTES_SHOWN)))
    ).all()
    audit.record(session, actor=actor, action=Action.NOTE_VIEW, outcome=Outcome.SUCCESS,
                 object_type="conversation", object_id=conversation.id or "",
                 patient_id=conversation.patient_id, detail=f"notes={len(rows)}")
    return [NoteView(id=n.id or 0, conversation_id=n.conversation_id,
                     author_user_id=n.author_user_id, author_name=name, body=_decrypt(n),
                     created_at=n.created_at)
            for n, name in reversed(rows)]
