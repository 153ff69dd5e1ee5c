"""Receipts: how far each user has received (delivered) and read each conversation, and
what the other side has done with a sender's messages ("Delivered", "Read <time>")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from care_messaging.models import Conversation, Patient, ReadState, Role, User, table_of, utcnow
from care_messaging.services import audit, events
from care_messaging.services.access import participant_user_ids
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.hot_sql import HotStatement


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
    statement = insert_for(table_of(ReadState)).values(
        user_id=bindparam("user_id"), conversation_id=bindparam("conversation_id"),
        last_read_seq=bindparam("seq"), last_delivered_seq=bindparam("seq"),
        read_at=bindparam("at"), delivered_at=bindparam("at"))
    current = table_of(ReadState).c
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


def upsert_own_read_state(session: Session, *, user_id: int, conversation_id: int, seq: int,
                          at: datetime) -> None:
    """The sender has read (and received) their own message: one upsert, never backwards
    (part of every send: services/message_sending.py)."""
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


_read_states = table_of(ReadState).c
# One statement per delivery (it runs for every message reaching every participant's tab).
_MOVE_DELIVERED = (
    update(table_of(ReadState))
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
    # An UPDATE's result is a CursorResult; SQLModel's Session.execute types it as Result.
    if moved.rowcount == 0:  # type: ignore[attr-defined]
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
        # The patient's read state, found through the patient in the same statement.
        query = (
            select(ReadState)
            .join(Patient, col(Patient.user_id) == ReadState.user_id)
            .where(ReadState.conversation_id == conversation.id,
                   Patient.id == conversation.patient_id)
        )
    else:
        query = (
            select(ReadState)
            .join(User, col(User.id) == ReadState.user_id)
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
