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
from care_messaging.models import MESSAGE_FTS, Attachment, Message, User
from care_messaging.services import audit
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.search import index_message
from care_messaging.settings import get_settings

BATCH = 2000


@dataclass(frozen=True)
class RotationReport:
    messages: int
    attachments: int
    totp_secrets: int
    indexed_messages: int


def _clear_search_index(session: Session) -> None:
    """Empty the search index (its tokens are keyed from the old active key)."""
    if session.get_bind().dialect.name == "sqlite":
        # A contentless FTS5 table is emptied with its special 'delete-all' command.
        session.execute(text(f"INSERT INTO {MESSAGE_FTS}({MESSAGE_FTS}) VALUES ('delete-all')"))
    else:
        session.execute(text(f"DELETE FROM {MESSAGE_FTS}"))


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
            index_message(session, message_id=message.id or 0, body=plain)
            terms += 1
        last_id = batch[-1].id or last_id
        session.flush()
    for user in session.exec(select(User).where(col(User.totp_secret_ct).is_not(None))).all():
        if user.totp_key_id != active:
            secret = crypto.decrypt_text(user.totp_secret_ct, aad=crypto.totp_aad(user.id),
                                         key_id=user.totp_key_id)
            user.totp_secret_ct, user.totp_key_id = crypto.encrypt_text(secret,
                                                                        aad=crypto.totp_aad(user.id))
            session.add(user)
            secrets += 1
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
                 detail=f"messages={messages} attachments={attachments} totp={secrets}")
    return RotationReport(messages, attachments, secrets, terms)
