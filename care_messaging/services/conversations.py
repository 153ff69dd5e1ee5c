"""Starting a conversation (with its first message) and changing its status or priority.

The lists of conversations are services/conversation_list.py.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlmodel import Session

from care_messaging.models import (
    Category,
    Conversation,
    ConversationStatus,
    Medium,
    Priority,
    Role,
    utcnow,
)
from care_messaging.services import audit, events
from care_messaging.services.access import (
    access_conversation,
    access_patient,
    participant_user_ids,
)
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import ValidationError
from care_messaging.services.message_sending import SendResult, send_message

MAX_TOPIC_CHARS = 200
# A few words on why (shown beside the category in both lists): short, unlike the topic.
MAX_REASON_CHARS = 120


def validate_reason(reason: str) -> str:
    """The reason as stored: one line of at most MAX_REASON_CHARS characters, not empty."""
    text = " ".join(str(reason or "").split())
    if not text:
        raise ValidationError("Enter a reason: a few words on why you are writing.")
    if len(text) > MAX_REASON_CHARS:
        raise ValidationError(f"Keep the reason to {MAX_REASON_CHARS} characters or fewer "
                              f"(it has {len(text)}).")
    return text


def _choice(value: str, allowed: type[StrEnum], label: str) -> str:
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
    reason: str,
    body: str,
    client_msg_id: str = "",
    category: str = Category.CHECK_IN,
    priority: str = Priority.ROUTINE,
    medium: str = Medium.SECURE_MESSAGE,
    attachment_ids: tuple[int, ...] = (),
) -> tuple[Conversation, SendResult]:
    """Open a conversation and send its first message, all or nothing.

    Every conversation says why it exists: a category (the kind of message) and a reason (a
    few words), shown together in both lists.
    """
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
    # In the order the dialogs ask for them, so the first error names the first gap.
    if not category:
        raise ValidationError("Choose a category.")
    category = _choice(category, Category, "category")
    priority = _choice(priority, Priority, "priority")
    medium = _choice(medium, Medium, "communication method")
    reason = validate_reason(reason)
    if not (body or "").strip() and not attachment_ids:
        raise ValidationError("Write the first message.")
    patient = access_patient(session, actor=actor, patient_id=patient_id,
                             action=Action.CONVERSATION_CREATE)
    now = utcnow()
    conversation = Conversation(
        patient_id=patient.id or 0,
        topic=topic,
        category=category,
        priority=priority,
        medium=medium,
        reason=reason,
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
    # Recorded before the first message, so both are handed on by the same commit.
    events.record(session, events.DomainEvent(
        kind=events.Kind.CONVERSATION_CREATED, conversation_id=conversation.id or 0,
        patient_id=conversation.patient_id, actor_user_id=actor.user_id, seq=1,
        user_ids=tuple(participant_user_ids(session, conversation.patient_id))))
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
    allowed: type[StrEnum], label: str, action: str,
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
    events.record(session, events.DomainEvent(
        kind=events.Kind.CONVERSATION_CHANGED, conversation_id=conversation.id or 0,
        patient_id=conversation.patient_id, actor_user_id=actor.user_id,
        user_ids=tuple(participant_user_ids(session, conversation.patient_id))))
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
