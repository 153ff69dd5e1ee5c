"""Messages as readers see them: one MessageView per message (sender, current text, files,
retracted or corrected), and a thread read a page at a time in server order."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import Attachment, Message, User
from care_messaging.services import message_revisions

if TYPE_CHECKING:  # message_sending builds the view of what it sends with views_of()
    from care_messaging.services.message_sending import StoredMessage


@dataclass(frozen=True)
class AttachmentView:
    id: int
    name: str
    content_type: str
    size_bytes: int
    is_image: bool


@dataclass(frozen=True)
class MessageView:
    id: int
    seq: int
    conversation_id: int
    sender_user_id: int
    sender_name: str
    sender_role: str
    body: str
    created_at: datetime
    client_msg_id: str
    tampered: bool = False
    attachments: tuple[AttachmentView, ...] = field(default_factory=tuple)
    # active, retracted or corrected (services/message_revisions.py); ``body`` is what it
    # says now, ``changed_at`` when it was last retracted or corrected.
    state: str = message_revisions.MessageState.ACTIVE
    changed_at: datetime | None = None


def views_of(session: Session, messages: list[Message] | list[StoredMessage]) -> list[MessageView]:
    if not messages:
        return []
    sender_ids = {m.sender_user_id for m in messages}
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(sender_ids))).all()}
    attachments: dict[int, list[AttachmentView]] = {}
    rows = session.exec(
        select(Attachment).where(col(Attachment.message_id).in_([m.id for m in messages]))
    ).all()
    for a in sorted(rows, key=lambda a: a.id or 0):
        attachments.setdefault(a.message_id or 0, []).append(
            AttachmentView(
                id=a.id or 0,
                name=a.display_name,
                content_type=a.content_type,
                size_bytes=a.size_bytes,
                is_image=a.content_type.startswith("image/"),
            )
        )
    # Retracted and corrected messages show what they say now (no query when none is).
    changes = message_revisions.current_texts(session, messages)
    views = []
    for m in messages:
        change = changes.get(m.id or 0)
        body, tampered = (change.body, False) if change else crypto.decrypt_body(m)
        if change and change.state == message_revisions.MessageState.RETRACTED:
            attachments.pop(m.id or 0, None)  # nothing of a retracted message is shown
        sender = users.get(m.sender_user_id)
        views.append(
            MessageView(
                id=m.id or 0,
                seq=m.seq,
                conversation_id=m.conversation_id,
                sender_user_id=m.sender_user_id,
                sender_name=sender.display_name if sender else "Unknown",
                sender_role=sender.role if sender else "",
                body=body,
                created_at=m.created_at,
                client_msg_id=m.client_msg_id,
                tampered=tampered,
                attachments=tuple(attachments.get(m.id or 0, [])),
                state=change.state if change else message_revisions.MessageState.ACTIVE,
                changed_at=change.changed_at if change else None,
            )
        )
    return views


def list_messages(
    session: Session,
    *,
    conversation_id: int,
    before_seq: int | None = None,
    after_seq: int | None = None,
    limit: int = 50,
) -> list[MessageView]:
    """A page of messages in server order. Callers must have checked access already."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if after_seq is not None:
        query = query.where(Message.seq > after_seq).order_by(col(Message.seq)).limit(limit)
        return views_of(session, list(session.exec(query).all()))
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    rows = list(session.exec(query.order_by(col(Message.seq).desc()).limit(limit)).all())
    rows.reverse()
    return views_of(session, rows)
