"""Sending and reading messages: idempotent sends, gap-free per-conversation order, receipts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import (
    Attachment,
    Conversation,
    ConversationStatus,
    Message,
    Patient,
    ReadState,
    Role,
    User,
    utcnow,
)
from care_messaging.services import audit, daily_counts, drafts, events, message_revisions
from care_messaging.services.access import (
    access_conversation,
    participant_user_ids,
)
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import ValidationError
from care_messaging.services.hot_sql import HotStatement
from care_messaging.services.search import index_message

log = logging.getLogger(__name__)

MAX_BODY_CHARS = 5000
MAX_CLIENT_ID_CHARS = 64
TAMPERED_TEXT = crypto.TAMPERED_TEXT


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


@dataclass(frozen=True)
class SendResult:
    message: MessageView
    created: bool
    participant_user_ids: tuple[int, ...] = ()
    patient_id: int = 0


@dataclass(frozen=True)
class StoredMessage:
    """A message row just inserted (the columns ``_views`` and ``decrypt_body`` read)."""

    id: int
    conversation_id: int
    sender_user_id: int
    seq: int
    client_msg_id: str
    body_ct: bytes
    key_id: str
    created_at: datetime


message_aad = crypto.message_aad  # re-exported for callers and tests that seal bodies
decrypt_body = crypto.decrypt_body


def _validate_body(body: str, has_attachments: bool) -> str:
    if not isinstance(body, str):
        raise ValidationError("Message must be text.")
    text = body.strip()
    if not text and not has_attachments:
        raise ValidationError("Write a message or attach a file before sending.")
    if len(text) > MAX_BODY_CHARS:
        raise ValidationError(f"Messages can be at most {MAX_BODY_CHARS} characters.")
    return text


def _validate_client_id(client_msg_id: str) -> str:
    if not isinstance(client_msg_id, str) or not client_msg_id.strip():
        raise ValidationError("Missing message id; please try again.")
    if len(client_msg_id) > MAX_CLIENT_ID_CHARS:
        raise ValidationError("Invalid message id.")
    return client_msg_id.strip()


def _views(session: Session, messages: list[Message] | list[StoredMessage]) -> list[MessageView]:
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
        body, tampered = (change.body, False) if change else decrypt_body(m)
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


def _existing(session: Session, sender_user_id: int, client_msg_id: str) -> Message | None:
    return session.exec(
        select(Message).where(
            Message.sender_user_id == sender_user_id, Message.client_msg_id == client_msg_id
        )
    ).first()


# The statements every send runs, built once and on the tables (plain Core): building
# expressions per call, and the ORM's bulk paths, cost about as much as executing them.
_conversations = Conversation.__table__.c
# They run on the DBAPI cursor (services/hot_sql.py).
_NEXT_SEQ = HotStatement(
    update(Conversation.__table__)
    .where(_conversations.id == bindparam("conversation_id"))
    .values(last_seq=_conversations.last_seq + 1, last_message_at=bindparam("now"))
    .returning(_conversations.last_seq)
)
_INSERT_MESSAGE = HotStatement(insert(Message.__table__).returning(Message.__table__.c.id))
_SET_LAST_MESSAGE = HotStatement(
    update(Conversation.__table__)
    .where(_conversations.id == bindparam("b_conversation"))
    .values(last_message_id=bindparam("b_message"))
)


def _keep_loaded_in_step(session: Session, conversation_id: int, **values: Any) -> None:
    """Prepared statements do not touch a Conversation this session has loaded (a caller such
    as create_conversation holds one): bring its attributes in step without a query."""
    loaded = session.identity_map.get(identity_key(Conversation, conversation_id))
    if loaded is not None:
        for name, value in values.items():
            set_committed_value(loaded, name, value)


def _insert_message(
    session: Session,
    *,
    actor: Actor,
    conversation: Row[Any],  # access_conversation(for_send=True): id, patient_id, status, reply fields
    text: str,
    client_msg_id: str,
    attachment_ids: list[int],
) -> StoredMessage:
    """Assign the next sequence number atomically and store the encrypted message."""
    now = utcnow()
    # UPDATE ... RETURNING takes the row's write lock first, so concurrent senders serialise
    # and every message gets the next number with no gap (a rollback undoes the increment).
    seq = _NEXT_SEQ.execute(session, {"conversation_id": conversation.id, "now": now}).scalar()
    _keep_loaded_in_step(session, conversation.id, last_seq=seq, last_message_at=now)
    ciphertext, key_id = crypto.encrypt_text(
        text, aad=message_aad(conversation.id or 0, seq, actor.user_id))
    values: dict[str, Any] = {"conversation_id": conversation.id or 0, "sender_user_id": actor.user_id,
              "seq": seq, "client_msg_id": client_msg_id, "body_ct": ciphertext,
              "key_id": key_id, "created_at": now}
    # A Core INSERT ... RETURNING: the ORM's unit of work costs more than the statement here.
    # The duplicate-client-id check is this statement's unique constraint (send_message).
    message_id = _INSERT_MESSAGE.execute(session, values, by_columns=True).scalar()
    # What was stored, as a plain record: an ORM Message (never added) cost ~50 µs to build.
    message = StoredMessage(id=message_id, **values)
    index_message(session, message_id=message.id or 0, body=text)
    daily_counts.count_message(session, patient_id=conversation.patient_id, at=now)
    _attach(session, actor=actor, conversation=conversation, message=message, ids=attachment_ids)
    values = {"last_message_id": message.id}
    if actor.role == Role.PROVIDER:
        if conversation.first_provider_reply_at is None:
            values["first_provider_reply_at"] = now
        if conversation.provider_user_id is None:
            values["provider_user_id"] = actor.user_id
        if conversation.status == ConversationStatus.COMPLETED:
            values["status"] = ConversationStatus.ACTIVE
    if len(values) == 1:  # the usual case: only the latest message moves
        _SET_LAST_MESSAGE.execute(session, {"b_conversation": conversation.id,
                                            "b_message": message.id})
        _keep_loaded_in_step(session, conversation.id, last_message_id=message.id)
    else:
        session.execute(
            update(Conversation).where(col(Conversation.id) == conversation.id).values(**values)
        )
    _upsert_own_read_state(session, user_id=actor.user_id,
                           conversation_id=message.conversation_id, seq=seq, at=now)
    drafts.clear(session, user_id=actor.user_id, conversation_id=message.conversation_id)
    audit.record(
        session,
        actor=actor,
        action=Action.MESSAGE_SEND,
        outcome=Outcome.SUCCESS,
        object_type="message",
        object_id=message.id or "",
        patient_id=conversation.patient_id,
        detail=f"conversation={conversation.id} seq={seq} attachments={len(attachment_ids)}",
    )
    return message


def _attach(
    session: Session, *, actor: Actor, conversation: Row[Any], message: StoredMessage, ids: list[int]
) -> None:
    if not ids:
        return
    rows = session.exec(select(Attachment).where(col(Attachment.id).in_(ids))).all()
    usable = [
        a
        for a in rows
        if a.uploader_user_id == actor.user_id
        and a.conversation_id == conversation.id
        and a.message_id is None
    ]
    if len(usable) != len(set(ids)):
        raise ValidationError("An attachment could not be found. Please attach it again.")
    for a in usable:
        a.message_id = message.id
        session.add(a)


def send_message(
    session: Session,
    *,
    actor: Actor,
    conversation_id: int,
    body: str,
    client_msg_id: str,
    attachment_ids: list[int] | tuple[int, ...] = (),
) -> SendResult:
    """Store one message exactly once per (sender, client_msg_id) and return it.

    A repeat of an already-stored client id returns the stored message with ``created=False``.
    """
    client_msg_id = _validate_client_id(client_msg_id)
    ids = [int(i) for i in attachment_ids]
    text = _validate_body(body, has_attachments=bool(ids))
    conversation = access_conversation(session, actor=actor, conversation_id=conversation_id,
                                       for_send=True)
    participants = tuple(participant_user_ids(session, conversation.patient_id))
    patient_id = conversation.patient_id
    if actor.role not in (Role.PATIENT, Role.PROVIDER):
        raise ValidationError("Only patients and their care team can send messages.")
    if actor.role == Role.PATIENT and conversation.status == ConversationStatus.COMPLETED:
        # A repeat of a message stored before the conversation was completed is no error.
        existing = _existing(session, actor.user_id, client_msg_id)
        if existing is None:
            raise ValidationError(
                "This conversation is completed and can no longer receive replies. "
                "Start a new conversation to contact your care team."
            )
        return _repeat(session, existing, conversation_id, participants, patient_id)
    try:
        message = _insert_message(
            session,
            actor=actor,
            conversation=conversation,
            text=text,
            client_msg_id=client_msg_id,
            attachment_ids=ids,
        )
        # The view of a new text message is built from what we already hold (no re-read and
        # no decrypt of what was just encrypted); one with attachments is read back.
        view = _views(session, [message])[0] if ids else _sent_view(message, actor=actor,
                                                                    text=text)
        events.record(session, events.DomainEvent(
            kind=events.Kind.MESSAGE_SENT, conversation_id=message.conversation_id,
            patient_id=patient_id, actor_user_id=actor.user_id, seq=message.seq,
            user_ids=participants, message=view))
    except IntegrityError:
        # This sender already stored this client id (a double click, a resend after a
        # reconnect, or a concurrent retry): nothing of this attempt is kept, the stored
        # message is the answer. The duplicate INSERT ran on the cursor at once, so it fails
        # here, before the caller commits; PostgreSQL has aborted the transaction by then, so
        # it is rolled back here (a send is its unit of work's only write: a savepoint per
        # message would cost two more statements on the hottest path for nothing).
        session.rollback()
        existing = _existing(session, actor.user_id, client_msg_id)
        if existing is None:
            raise
        return _repeat(session, existing, conversation_id, participants, patient_id)
    return SendResult(view, True, participants, patient_id)


def _repeat(session: Session, existing: Message, conversation_id: int,
            participants: tuple[int, ...], patient_id: int) -> SendResult:
    if existing.conversation_id != conversation_id:
        raise ValidationError("Invalid message id.")
    return SendResult(_views(session, [existing])[0], False, participants, patient_id)


def _sent_view(message: StoredMessage, *, actor: Actor, text: str) -> MessageView:
    return MessageView(
        id=message.id or 0,
        seq=message.seq,
        conversation_id=message.conversation_id,
        sender_user_id=actor.user_id,
        sender_name=actor.display_name,
        sender_role=actor.role,
        body=text,
        created_at=message.created_at,
        client_msg_id=message.client_msg_id,
    )


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
        return _views(session, list(session.exec(query).all()))
    if before_seq is not None:
        query = query.where(Message.seq < before_seq)
    rows = list(session.exec(query.order_by(col(Message.seq).desc()).limit(limit)).all())
    rows.reverse()
    return _views(session, rows)


def _advance_read_state(
    session: Session, *, user_id: int, conversation_id: int, seq: int, read: bool
) -> bool:
    """Move a user's delivered (and read) marks forward; returns True when read advanced."""
    state = session.get(ReadState, (user_id, conversation_id))
    now = utcnow()
    if state is None:
        state = ReadState(user_id=user_id, conversation_id=conversation_id)
    advanced = False
    if seq > state.last_delivered_seq:
        state.last_delivered_seq = seq
        state.delivered_at = now
    if read and seq > state.last_read_seq:
        state.last_read_seq = seq
        state.read_at = now
        advanced = True
    session.add(state)
    return advanced


def _own_read_state_upsert(dialect: str) -> Any:
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_for(ReadState.__table__).values(
        user_id=bindparam("user_id"), conversation_id=bindparam("conversation_id"),
        last_read_seq=bindparam("seq"), last_delivered_seq=bindparam("seq"),
        read_at=bindparam("at"), delivered_at=bindparam("at"))
    current = ReadState.__table__.c
    new = statement.excluded

    def forward(mark: str, stamp: str) -> dict[str, Any]:
        ahead = new[mark] > current[mark]
        return {mark: case((ahead, new[mark]), else_=current[mark]),
                stamp: case((ahead, new[stamp]), else_=current[stamp])}

    return statement.on_conflict_do_update(
        index_elements=["user_id", "conversation_id"],
        set_={**forward("last_read_seq", "read_at"),
              **forward("last_delivered_seq", "delivered_at")},
    )


_OWN_READ_STATE_UPSERT = {d: HotStatement(_own_read_state_upsert(d))
                          for d in ("sqlite", "postgresql")}


def _upsert_own_read_state(session: Session, *, user_id: int, conversation_id: int, seq: int,
                           at: datetime) -> None:
    """The sender has read (and received) their own message: one upsert, never backwards."""
    statement = _OWN_READ_STATE_UPSERT[session.get_bind().dialect.name]
    statement.execute(session, {"user_id": user_id, "conversation_id": conversation_id,
                                "seq": seq, "at": at})


def mark_read(session: Session, *, actor: Actor, conversation: Conversation) -> bool:
    """Mark everything in an (already access-checked) conversation read; audits new reads."""
    before = session.get(ReadState, (actor.user_id, conversation.id))
    previous = before.last_read_seq if before else 0
    advanced = _advance_read_state(
        session, user_id=actor.user_id, conversation_id=conversation.id or 0,
        seq=conversation.last_seq, read=True,
    )
    if advanced:
        audit.record(
            session,
            actor=actor,
            action=Action.MESSAGE_READ,
            outcome=Outcome.SUCCESS,
            object_type="conversation",
            object_id=conversation.id or "",
            patient_id=conversation.patient_id,
            detail=f"seq {previous + 1}-{conversation.last_seq}",
        )
        # The senders' screens turn "Delivered" into "Read <time>".
        events.record(session, events.DomainEvent(
            kind=events.Kind.READ, conversation_id=conversation.id or 0,
            patient_id=conversation.patient_id, actor_user_id=actor.user_id,
            seq=conversation.last_seq,
            user_ids=tuple(participant_user_ids(session, conversation.patient_id))))
    return advanced


_read_states = ReadState.__table__.c
# One statement per delivery (it runs for every message reaching every participant's tab).
_MOVE_DELIVERED = (
    update(ReadState.__table__)
    .where(_read_states.user_id == bindparam("b_user"),
           _read_states.conversation_id == bindparam("b_conversation"),
           _read_states.last_delivered_seq < bindparam("b_seq"))
    .values(last_delivered_seq=bindparam("b_seq"), delivered_at=bindparam("b_at"))
)


def mark_delivered(session: Session, *, user_id: int, conversation_id: int, seq: int,
                   patient_id: int = 0, notify_user_ids: tuple[int, ...] = ()) -> bool:
    """Record that one of the user's sessions received messages up to ``seq``; True when
    that moved the mark. When it moved, a DELIVERED event tells ``notify_user_ids`` (the
    senders, whose screens show "Delivered")."""
    moved = session.execute(_MOVE_DELIVERED, {"b_user": user_id, "b_conversation":
                                              conversation_id, "b_seq": seq, "b_at": utcnow()})
    if moved.rowcount == 0:
        if session.get(ReadState, (user_id, conversation_id)) is not None:
            return False  # already delivered that far
        session.add(ReadState(user_id=user_id, conversation_id=conversation_id,
                              last_delivered_seq=seq, delivered_at=utcnow()))
    if notify_user_ids:
        events.record(session, events.DomainEvent(
            kind=events.Kind.DELIVERED, conversation_id=conversation_id, patient_id=patient_id,
            actor_user_id=user_id, seq=seq, user_ids=tuple(notify_user_ids)))
    return True


@dataclass(frozen=True)
class Receipt:
    """What the other side has done with a sender's messages, up to a sequence number."""

    delivered_seq: int = 0
    delivered_at: datetime | None = None
    read_seq: int = 0
    read_at: datetime | None = None


def receipt_for(session: Session, *, actor: Actor, conversation: Conversation) -> Receipt:
    """Receipts from the *other side*: the patient for providers, the care team for patients."""
    if actor.role == Role.PROVIDER:
        patient_user = session.exec(
            select(Patient.user_id).where(Patient.id == conversation.patient_id)
        ).first()
        query = select(ReadState).where(
            ReadState.conversation_id == conversation.id, ReadState.user_id == patient_user
        )
    else:
        query = (
            select(ReadState)
            .join(User, User.id == ReadState.user_id)
            .where(ReadState.conversation_id == conversation.id, User.role == Role.PROVIDER)
        )
    states = session.exec(query).all()
    if not states:
        return Receipt()
    best_read = max(states, key=lambda s: s.last_read_seq)
    best_delivered = max(states, key=lambda s: s.last_delivered_seq)
    return Receipt(
        delivered_seq=best_delivered.last_delivered_seq,
        delivered_at=best_delivered.delivered_at,
        read_seq=best_read.last_read_seq,
        read_at=best_read.read_at,
    )
