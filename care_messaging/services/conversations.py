"""Conversation lists, creation, status and priority.

Lists are paged on the server and computed from denormalised counters
(``Conversation.last_seq`` minus the reader's ``ReadState.last_read_seq``), so a page costs the
same whether the history holds a hundred messages or a million.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from care_messaging.models import (
    Category,
    Conversation,
    ConversationStatus,
    Medium,
    Message,
    Patient,
    Priority,
    ReadState,
    Role,
    User,
    utcnow,
)
from care_messaging.services import audit
from care_messaging.services.access import (
    access_conversation,
    access_patient,
    visible_patient_ids,
)
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import NotFoundError, ValidationError
from care_messaging.services.messages import SendResult, decrypt_body, send_message

MAX_TOPIC_CHARS = 200
PREVIEW_CHARS = 90
FILTERS = ("all", "unread", "read")


@dataclass(frozen=True)
class ConversationRow:
    id: int
    topic: str
    patient_id: int
    patient_name: str
    patient_mrn: str
    patient_initials: str
    provider_name: str
    status: str
    priority: str
    category: str
    medium: str
    reason: str
    last_message_at: datetime
    preview: str
    message_count: int
    unread: int


@dataclass(frozen=True)
class ConversationPage:
    rows: list[ConversationRow]
    total: int


def _unread_expr():
    return Conversation.last_seq - func.coalesce(ReadState.last_read_seq, 0)


def _base_query(actor: Actor, *, filter_by: str, search: str):
    unread = _unread_expr()
    query = (
        select(Conversation, Patient, unread.label("unread"))
        .join(Patient, Patient.id == Conversation.patient_id)
        .outerjoin(
            ReadState,
            (ReadState.conversation_id == Conversation.id) & (ReadState.user_id == actor.user_id),
        )
        .where(col(Conversation.patient_id).in_(visible_patient_ids(actor)))
    )
    if filter_by == "unread":
        query = query.where(unread > 0)
    elif filter_by == "read":
        query = query.where(unread <= 0)
    term = search.strip()
    if term:
        like = f"%{term.lower()}%"
        query = query.where(
            or_(
                func.lower(Conversation.topic).like(like),
                func.lower(Patient.first_name + " " + Patient.last_name).like(like),
                func.lower(Patient.mrn).like(like),
            )
        )
    return query


def _narrow_query(actor: Actor, *, filter_by: str, search: str):
    """Ids and sort key only, joining read state / patient only when a filter needs them.

    For the plain list this is answered from ``ix_conversations_patient_activity`` alone
    (index-only), so sorting a provider's 10,000 conversations never loads their rows.
    """
    query = select(Conversation.id, Conversation.last_message_at).where(
        col(Conversation.patient_id).in_(visible_patient_ids(actor))
    )
    if filter_by in ("unread", "read"):
        unread = _unread_expr()
        query = query.outerjoin(
            ReadState,
            (ReadState.conversation_id == Conversation.id) & (ReadState.user_id == actor.user_id),
        ).where(unread > 0 if filter_by == "unread" else unread <= 0)
    term = search.strip()
    if term:
        like = f"%{term.lower()}%"
        query = query.join(Patient, Patient.id == Conversation.patient_id).where(
            or_(
                func.lower(Conversation.topic).like(like),
                func.lower(Patient.first_name + " " + Patient.last_name).like(like),
                func.lower(Patient.mrn).like(like),
            )
        )
    return query


def list_conversations(
    session: Session,
    *,
    actor: Actor,
    filter_by: str = "all",
    search: str = "",
    limit: int = 50,
    offset: int = 0,
) -> ConversationPage:
    """The conversations the actor may see, most recent activity first, one page at a time.

    Two steps keep a page O(page) in rows loaded: pick the page's ids with a narrow query, then
    load those rows (with patient and unread count) by primary key.
    """
    if filter_by not in FILTERS:
        filter_by = "all"
    limit = max(1, min(int(limit), 200))
    offset = max(0, int(offset))
    narrow = _narrow_query(actor, filter_by=filter_by, search=search or "")
    total = session.exec(select(func.count()).select_from(narrow.subquery())).one()
    ids = list(session.exec(
        narrow.order_by(col(Conversation.last_message_at).desc(), col(Conversation.id).desc())
        .limit(limit)
        .offset(offset)
    ).all())
    page_ids = [row[0] for row in ids]
    if not page_ids:
        return ConversationPage(rows=[], total=int(total))
    # The ids came from the access-scoped query above; load just those rows by primary key.
    found = {c.id: (c, p, u) for c, p, u in session.exec(
        select(Conversation, Patient, _unread_expr().label("unread"))
        .join(Patient, Patient.id == Conversation.patient_id)
        .outerjoin(
            ReadState,
            (ReadState.conversation_id == Conversation.id) & (ReadState.user_id == actor.user_id),
        )
        .where(col(Conversation.id).in_(page_ids))
    ).all()}
    rows = [found[i] for i in page_ids if i in found]
    return ConversationPage(rows=_to_rows(session, rows), total=int(total))


def _to_rows(session: Session, rows) -> list[ConversationRow]:
    last_ids = [c.last_message_id for c, _, _ in rows if c.last_message_id]
    messages = {
        m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(last_ids))).all()
    }
    provider_ids = {c.provider_user_id for c, _, _ in rows if c.provider_user_id}
    providers = {
        u.id: u.display_name
        for u in session.exec(select(User).where(col(User.id).in_(provider_ids))).all()
    }
    out = []
    for conversation, patient, unread in rows:
        message = messages.get(conversation.last_message_id)
        preview = decrypt_body(message)[0] if message else ""
        if len(preview) > PREVIEW_CHARS:
            preview = preview[: PREVIEW_CHARS - 1] + "…"
        out.append(
            ConversationRow(
                id=conversation.id or 0,
                topic=conversation.topic,
                patient_id=patient.id or 0,
                patient_name=patient.full_name,
                patient_mrn=patient.mrn,
                patient_initials=(patient.first_name[:1] + patient.last_name[:1]).upper(),
                provider_name=providers.get(conversation.provider_user_id, "Your care team"),
                status=conversation.status,
                priority=conversation.priority,
                category=conversation.category,
                medium=conversation.medium,
                reason=conversation.reason,
                last_message_at=conversation.last_message_at,
                preview=preview,
                message_count=conversation.last_seq,
                unread=max(0, int(unread)),
            )
        )
    return out


def get_row(session: Session, *, actor: Actor, conversation_id: int) -> ConversationRow:
    """One list row for a conversation the actor may see (NotFoundError otherwise)."""
    base = _base_query(actor, filter_by="all", search="").where(Conversation.id == conversation_id)
    rows = session.exec(base).all()
    if not rows:
        raise NotFoundError("Conversation not found.")
    return _to_rows(session, rows)[0]


def unread_total(session: Session, *, actor: Actor) -> int:
    """Unread messages across everything the actor may see (for the navigation badge)."""
    unread = _unread_expr()
    query = (
        select(func.coalesce(func.sum(unread), 0))
        .select_from(Conversation)
        .outerjoin(
            ReadState,
            (ReadState.conversation_id == Conversation.id) & (ReadState.user_id == actor.user_id),
        )
        .where(col(Conversation.patient_id).in_(visible_patient_ids(actor)), unread > 0)
    )
    return int(session.exec(query).one())


def _choice(value: str, allowed: type, label: str) -> str:
    values = {v.value for v in allowed}
    if value not in values:
        raise ValidationError(f"Choose a valid {label}.")
    return value


def create_conversation(
    session: Session,
    *,
    actor: Actor,
    patient_id: int | None,
    topic: str,
    body: str,
    client_msg_id: str = "",
    category: str = Category.CHECK_IN,
    priority: str = Priority.ROUTINE,
    medium: str = Medium.SECURE_MESSAGE,
    reason: str = "",
    attachment_ids: tuple[int, ...] = (),
) -> tuple[Conversation, SendResult]:
    """Open a conversation and send its first message, all or nothing."""
    if actor.role == Role.PATIENT:
        patient_id = actor.patient_id
    elif actor.role != Role.PROVIDER:
        raise ValidationError("Only patients and providers can start conversations.")
    if not isinstance(patient_id, int):
        raise ValidationError("Choose a patient.")
    topic = (topic or "").strip()
    if not topic:
        raise ValidationError("Enter a topic.")
    if len(topic) > MAX_TOPIC_CHARS:
        raise ValidationError(f"Topics can be at most {MAX_TOPIC_CHARS} characters.")
    if not (body or "").strip() and not attachment_ids:
        raise ValidationError("Write the first message.")
    category = _choice(category, Category, "category")
    priority = _choice(priority, Priority, "priority")
    medium = _choice(medium, Medium, "communication method")
    patient = access_patient(session, actor=actor, patient_id=patient_id,
                             action=Action.CONVERSATION_CREATE)
    now = utcnow()
    conversation = Conversation(
        patient_id=patient.id or 0,
        topic=topic,
        category=category,
        priority=priority,
        medium=medium,
        reason=(reason or "").strip()[:300],
        status=ConversationStatus.ACTIVE,
        created_by_user_id=actor.user_id,
        provider_user_id=actor.user_id if actor.role == Role.PROVIDER else None,
        created_at=now,
        last_message_at=now,
    )
    session.add(conversation)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=Action.CONVERSATION_CREATE,
        outcome=Outcome.SUCCESS,
        object_type="conversation",
        object_id=conversation.id or "",
        patient_id=conversation.patient_id,
    )
    result = send_message(
        session,
        actor=actor,
        conversation_id=conversation.id or 0,
        body=body,
        client_msg_id=client_msg_id or uuid.uuid4().hex,
        attachment_ids=attachment_ids,
    )
    return conversation, result


def _set_attribute(
    session: Session, *, actor: Actor, conversation_id: int, field: str, value: str,
    allowed: type, label: str, action: str,
) -> Conversation:
    """Change one care-team-controlled attribute (status or priority), audited."""
    conversation = access_conversation(session, actor=actor, conversation_id=conversation_id,
                                       action=action)
    if actor.role != Role.PROVIDER:
        raise ValidationError(f"Only the care team can change a conversation's {label}.")
    value = _choice(value, allowed, label)
    previous = getattr(conversation, field)
    setattr(conversation, field, value)
    session.add(conversation)
    audit.record(
        session, actor=actor, action=action, outcome=Outcome.SUCCESS,
        object_type="conversation", object_id=conversation.id or "",
        patient_id=conversation.patient_id, detail=f"{previous} -> {value}",
    )
    session.commit()
    return conversation


def set_status(session: Session, *, actor: Actor, conversation_id: int, status: str) -> Conversation:
    """Providers on the care team move a conversation between active, needs attention, done."""
    return _set_attribute(session, actor=actor, conversation_id=conversation_id, field="status",
                          value=status, allowed=ConversationStatus, label="status",
                          action=Action.STATUS_CHANGE)


def set_priority(
    session: Session, *, actor: Actor, conversation_id: int, priority: str
) -> Conversation:
    return _set_attribute(session, actor=actor, conversation_id=conversation_id, field="priority",
                          value=priority, allowed=Priority, label="priority",
                          action=Action.PRIORITY_CHANGE)


def list_patient_conversations(
    session: Session, *, actor: Actor, patient_id: int, limit: int = 50, offset: int = 0
) -> ConversationPage:
    """One patient's conversations (access-checked: NotFoundError when not visible)."""
    access_patient(session, actor=actor, patient_id=patient_id)
    limit = max(1, min(int(limit), 200))
    base = _base_query(actor, filter_by="all", search="").where(
        Conversation.patient_id == patient_id
    )
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(
        base.order_by(col(Conversation.last_message_at).desc(), col(Conversation.id).desc())
        .limit(limit)
        .offset(max(0, int(offset)))
    ).all()
    return ConversationPage(rows=_to_rows(session, rows), total=int(total))
