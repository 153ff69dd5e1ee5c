"""Key rotation: re-encrypt everything under the active key and rebuild the search index.

Run after putting a new key first in CARE_ENCRYPTION_KEYS (old keys stay listed until this
finishes). Each message is re-encrypted in place; the blind index is keyed from the active key,
so it is rebuilt too. Attachment files are rewritten atomically (write, then rename).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import (
    MESSAGE_FTS,
    Attachment,
    InternalNote,
    Message,
    MessageDraft,
    MessageRevision,
    User,
)
from care_messaging.services import audit
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.message_revisions import MessageState, message_state
from care_messaging.services.search import index_message, searchable_text
from care_messaging.settings import get_settings

BATCH = 2000


@dataclass(frozen=True)
class RotationReport:
    messages: int
    attachments: int
    totp_secrets: int
    indexed_messages: int
    internal_notes: int = 0


def _clear_search_index(session: Session) -> None:
    """Empty the search index (its tokens are keyed from the old active key)."""
    if session.get_bind().dialect.name == "sqlite":
        # A contentless FTS5 table is emptied with its special 'delete-all' command.
        session.execute(text(f"INSERT INTO {MESSAGE_FTS}({MESSAGE_FTS}) VALUES ('delete-all')"))
    else:
        session.execute(text(f"DELETE FROM {MESSAGE_FTS}"))


def _rotate_revisions_and_drafts(session: Session, active: str) -> None:
    """Corrections' texts and drafts (migration 0010), each under its own binding."""
    for revision in session.exec(select(MessageRevision).where(
            col(MessageRevision.body_ct).is_not(None), MessageRevision.key_id != active)).all():
        aad = crypto.revision_aad(revision.conversation_id, revision.message_id,
                                  revision.revision_no, revision.editor_user_id)
        # The query keeps only revisions with a text (a retraction has none).
        assert revision.body_ct is not None
        plain = crypto.decrypt_text(revision.body_ct, aad=aad, key_id=revision.key_id)
        revision.body_ct, revision.key_id = crypto.encrypt_text(plain, aad=aad)
        session.add(revision)
    for draft in session.exec(select(MessageDraft).where(MessageDraft.key_id != active)).all():
        aad = crypto.draft_aad(draft.user_id, draft.conversation_id)
        plain = crypto.decrypt_text(draft.body_ct, aad=aad, key_id=draft.key_id)
        draft.body_ct, draft.key_id = crypto.encrypt_text(plain, aad=aad)
        session.add(draft)


def rotate_keys(session: Session) -> RotationReport:
    settings = get_settings()
    active = settings.active_key_id
    messages = attachments = secrets = terms = 0
    _clear_search_index(session)
    last_id = 0
    while True:
        batch = session.exec(select(Message).where(col(Message.id) > last_id)
                             .order_by(col(Message.id)).limit(BATCH)).all()
        if not batch:
            break
        for message in batch:
            aad = crypto.message_aad(message.conversation_id, message.seq,
                                     message.sender_user_id)
            plain = crypto.decrypt_text(message.body_ct, aad=aad, key_id=message.key_id)
            if message.key_id != active:
                message.body_ct, message.key_id = crypto.encrypt_text(plain, aad=aad)
                session.add(message)
                messages += 1
            # The index holds what a message says now (search.searchable_text).
            index_message(session, message_id=message.id or 0,
                          body=plain if message_state(message) == MessageState.ACTIVE
                          else searchable_text(session, message))
            terms += 1
        last_id = batch[-1].id or last_id
        session.flush()
    for user in session.exec(select(User).where(col(User.totp_secret_ct).is_not(None))).all():
        # The query keeps only users with a secret.
        if user.totp_key_id != active and user.totp_secret_ct is not None:
            secret = crypto.decrypt_text(user.totp_secret_ct, aad=crypto.totp_aad(user.id),
                                         key_id=user.totp_key_id)
            user.totp_secret_ct, user.totp_key_id = crypto.encrypt_text(secret,
                                                                        aad=crypto.totp_aad(user.id))
            session.add(user)
            secrets += 1
    _rotate_revisions_and_drafts(session, active)
    notes = 0
    # Staff-only notes: few per conversation, and never in the search index.
    for note in session.exec(select(InternalNote).where(InternalNote.key_id != active)).all():
        aad = crypto.note_aad(note.conversation_id, note.id or 0, note.author_user_id)
        plain = crypto.decrypt_text(note.body_ct, aad=aad, key_id=note.key_id)
        note.body_ct, note.key_id = crypto.encrypt_text(plain, aad=aad)
        session.add(note)
        notes += 1
    for attachment in session.exec(select(Attachment).where(Attachment.key_id != active)).all():
        path = settings.attachment_dir / attachment.stored_name
        aad = crypto.attachment_aad(attachment.conversation_id, attachment.id or 0)
        data = crypto.decrypt(path.read_bytes(), aad=aad, key_id=attachment.key_id)
        blob, attachment.key_id = crypto.encrypt(data, aad=aad)
        tmp = path.with_suffix(".rotating")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
        session.add(attachment)
        attachments += 1
    audit.record(session, action=Action.KEY_ROTATION, outcome=Outcome.SUCCESS,
                 actor_label="operator (cli)", object_type="keys", object_id=active,
                 detail=f"messages={messages} attachments={attachments} totp={secrets} "
                        f"notes={notes}")
    return RotationReport(messages, attachments, secrets, terms, notes)
