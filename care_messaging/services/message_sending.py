"""Sending a message: idempotent per (sender, client id), gap-free per-conversation order.

The hot path: its statements run on the DBAPI cursor (services/hot_sql.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, literal_column, null, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import (
    Attachment,
    Conversation,
    ConversationStatus,
    Message,
    Role,
    table_of,
    utcnow,
)
from care_messaging.services import audit, daily_counts, drafts, events
from care_messaging.services.access import access_for_send
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import ValidationError
from care_messaging.services.hot_sql import HotStatement, batched, keep_loaded_in_step, note
from care_messaging.services.message_views import MessageView, views_of
from care_messaging.services.receipts import upsert_own_read_state
from care_messaging.services.search import index_message
from care_messaging.services.triage import TRIAGE_COLUMNS

MAX_BODY_CHARS = 5000
MAX_CLIENT_ID_CHARS = 64


@dataclass(frozen=True)
class SendResult:
    message: MessageView
    created: bool
    participant_user_ids: tuple[int, ...] = ()
    patient_id: int = 0


@dataclass(frozen=True)
class StoredMessage:
    """A message row just inserted (the columns ``message_views.views_of`` and
    ``crypto.decrypt_body`` read)."""

    id: int
    conversation_id: int
    sender_user_id: int
    seq: int
    client_msg_id: str
    body_ct: bytes
    key_id: str
    created_at: datetime


def validate_body(body: str, has_attachments: bool) -> str:
    """The text as stored (a correction is held to the same rule: services/message_changes.py)."""
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


def _existing(session: Session, sender_user_id: int, client_msg_id: str) -> Message | None:
    return session.exec(
        select(Message).where(
            Message.sender_user_id == sender_user_id, Message.client_msg_id == client_msg_id
        )
    ).first()


# The statements every send runs, built once and on the tables (plain Core): building
# expressions per call, and the ORM's bulk paths, cost about as much as executing them.
# They run on the DBAPI cursor (services/hot_sql.py).
_conversations = table_of(Conversation).c
_messages = table_of(Message)
_SEND_COLUMNS = (
    _conversations.id, _conversations.patient_id, _conversations.status,
    _conversations.first_provider_reply_at, _conversations.provider_user_id,
)
# The send's read of its conversation (with the access check: access_for_send). On PostgreSQL
# it locks the row (FOR UPDATE): concurrent senders to one conversation queue here, so the
# next sequence number is the read one plus one; and it takes the message's id from the
# table's sequence. Every write of the send then travels in one batch (``_insert_message``):
# four round trips per send instead of six. SQLite's transaction only starts at the first
# write (pysqlite), so a read there locks nothing: the number comes from the UPDATE below,
# and the id from the INSERT (both in-process, nothing to save).
_SEND_READ = {
    "postgresql": HotStatement(
        sa_select(*_SEND_COLUMNS, _conversations.last_seq,
                  *(_conversations[c] for c in TRIAGE_COLUMNS),
                  func.nextval(literal_column(f"'{_messages.name}_id_seq'::regclass"))
                  .label("message_id"))
        .where(_conversations.id == bindparam("b_id")).with_for_update()),
    "sqlite": HotStatement(sa_select(*_SEND_COLUMNS, null().label("message_id"))
                           .where(_conversations.id == bindparam("b_id"))),
}
_NEXT_SEQ = HotStatement(
    update(table_of(Conversation))
    .where(_conversations.id == bindparam("conversation_id"))
    .values(last_seq=_conversations.last_seq + 1, last_message_at=bindparam("now"))
    .returning(_conversations.last_seq, *(_conversations[c] for c in TRIAGE_COLUMNS))
)
_INSERT_MESSAGE = HotStatement(insert(_messages).returning(_messages.c.id))
_INSERT_MESSAGE_WITH_ID = HotStatement(insert(_messages))
_SET_LAST_MESSAGE = HotStatement(
    update(table_of(Conversation))
    .where(_conversations.id == bindparam("b_conversation"))
    .values(last_message_id=bindparam("b_message"))
)
# PostgreSQL, the row locked by the send's read: the number, the time and the latest message
# in one write, in the send's batch.
_SET_LATEST = HotStatement(
    update(table_of(Conversation))
    .where(_conversations.id == bindparam("b_conversation"))
    .values(last_seq=bindparam("b_seq"), last_message_at=bindparam("b_now"),
            last_message_id=bindparam("b_message"))
)


def _insert_message(
    session: Session,
    *,
    actor: Actor,
    conversation: Row[Any],  # _SEND_READ's columns (the dialect's)
    text: str,
    client_msg_id: str,
    attachment_ids: list[int],
) -> StoredMessage:
    """Assign the next sequence number atomically and store the encrypted message."""
    now = utcnow()
    message_id = conversation.message_id  # allocated by the read on PostgreSQL, else None
    allocated = message_id is not None
    if allocated:
        # The read locked the row (FOR UPDATE) in this transaction: nobody else can take a
        # number before the commit, so the next one is ours, gap-free.
        seq = conversation.last_seq + 1
        triage_state = tuple(getattr(conversation, c) for c in TRIAGE_COLUMNS)
    else:
        # UPDATE ... RETURNING takes the row's write lock first, so concurrent senders
        # serialise and every message gets the next number with no gap (a rollback undoes the
        # increment).
        row = _NEXT_SEQ.execute(session, {"conversation_id": conversation.id, "now": now}).first()
        assert row is not None  # access_for_send found the conversation in this transaction
        seq, triage_state = row[0], tuple(row[1:])
    keep_loaded_in_step(session, Conversation, conversation.id, last_seq=seq, last_message_at=now)
    # The locked row's triage state, read with the lock: the triage consumer, which runs before
    # this transaction commits, takes it instead of reading the row again.
    note(session, Conversation, conversation.id, TRIAGE_COLUMNS, triage_state)
    ciphertext, key_id = crypto.encrypt_text(
        text, aad=crypto.message_aad(conversation.id or 0, seq, actor.user_id))
    values: dict[str, Any] = {"conversation_id": conversation.id or 0, "sender_user_id": actor.user_id,
              "seq": seq, "client_msg_id": client_msg_id, "body_ct": ciphertext,
              "key_id": key_id, "created_at": now}
    if not allocated:
        # A Core INSERT ... RETURNING: the ORM's unit of work costs more than the statement.
        # The duplicate-client-id check is this statement's unique constraint (send_message).
        message_id = _INSERT_MESSAGE.execute(session, values, by_columns=True).scalar()
    # What was stored, as a plain record: an ORM Message (never added) cost ~50 µs to build.
    message = StoredMessage(id=message_id, **values)
    changes: dict[str, Any] = {}
    if actor.role == Role.PROVIDER:
        if conversation.first_provider_reply_at is None:
            changes["first_provider_reply_at"] = now
        if conversation.provider_user_id is None:
            changes["provider_user_id"] = actor.user_id
        if conversation.status == ConversationStatus.COMPLETED:
            changes["status"] = ConversationStatus.ACTIVE
    # The writes nobody reads back: one round trip on PostgreSQL (hot_sql.batched), the row's
    # number and the message itself among them when the read allocated the id.
    with batched(session):
        if allocated:
            _INSERT_MESSAGE_WITH_ID.execute(session, {"id": message_id, **values},
                                            by_columns=True)
            _SET_LATEST.execute(session, {"b_conversation": conversation.id, "b_seq": seq,
                                          "b_now": now, "b_message": message_id})
        else:
            _SET_LAST_MESSAGE.execute(session, {"b_conversation": conversation.id,
                                                "b_message": message_id})
        index_message(session, message_id=message_id, body=text)
        daily_counts.count_message(session, patient_id=conversation.patient_id, at=now)
        upsert_own_read_state(session, user_id=actor.user_id,
                              conversation_id=message.conversation_id, seq=seq, at=now)
        drafts.clear(session, user_id=actor.user_id, conversation_id=message.conversation_id)
        audit.record(
            session,
            actor=actor,
            action=Action.MESSAGE_SEND,
            outcome=Outcome.SUCCESS,
            object_type="message",
            object_id=message_id,
            patient_id=conversation.patient_id,
            detail=f"conversation={conversation.id} seq={seq} attachments={len(attachment_ids)}",
        )
    keep_loaded_in_step(session, Conversation, conversation.id, last_message_id=message_id)
    if changes:  # a provider's first reply, or one that reopens the conversation
        session.execute(
            update(Conversation).where(col(Conversation.id) == conversation.id).values(**changes)
        )
    _attach(session, actor=actor, conversation=conversation, message=message, ids=attachment_ids)
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
    text = validate_body(body, has_attachments=bool(ids))
    read = _SEND_READ[session.get_bind().dialect.name]
    conversation, participants = access_for_send(session, actor=actor,
                                                 conversation_id=conversation_id, read=read)
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
        view = views_of(session, [message])[0] if ids else _sent_view(message, actor=actor,
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
    return SendResult(views_of(session, [existing])[0], False, participants, patient_id)


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

