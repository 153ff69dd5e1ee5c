"""Retract and correct a message, and read its history.

A message sent in error is corrected without erasing the record: nothing is deleted or
overwritten. The original body stays encrypted in ``messages``; each retraction or
correction is a new ``message_revisions`` row (a correction's text encrypted and bound to
its message, revision number and editor) and the message row notes when
(``retracted_at``/``corrected_at``). Readers see "Message retracted by the sender" or the
corrected text marked "edited" (services/message_revisions.py); providers can open the
history: the original, then every change, with times.

Access, in the order checked: the message must exist, be the actor's own and sit in a
conversation the actor can still see (otherwise "Message not found.", exactly as for an id
that does not exist, audited as denied); it must still be inside the clinic's window
(``CARE_RETRACT_WINDOW_MINUTES``, 15 by default) and not already retracted. Every attempt
writes an audit row, never with the text. A change is a ``message_changed`` domain event:
the participants' open tabs show it live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import (
    Attachment,
    Conversation,
    Message,
    MessageRevision,
    MessageRevisionKind,
    Role,
    User,
    utcnow,
)
from care_messaging.services import audit, events
from care_messaging.services.access import access_conversation, participant_user_ids
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import NotFoundError, ValidationError
from care_messaging.services.message_revisions import (
    RETRACTED_TEXT,
    MessageState,
    decrypt_revision,
    message_state,
)
from care_messaging.services.message_sending import validate_body
from care_messaging.services.message_views import MessageView, list_messages
from care_messaging.services.search import reindex_message, searchable_text
from care_messaging.settings import get_settings

INVALID_MESSAGE = "Message not found."


def window() -> timedelta:
    return timedelta(minutes=max(0, get_settings().retract_window_minutes))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def can_change(message: object, *, user_id: int, now: datetime | None = None) -> bool:
    """Whether ``user_id`` may still retract or correct this message (own, not retracted,
    inside the window). The service decides again on every change; this only shows the
    buttons."""
    created = getattr(message, "created_at", None)
    return (getattr(message, "sender_user_id", None) == user_id and created is not None
            and message_state(message) != MessageState.RETRACTED
            and (now or utcnow()) - _aware(created) <= window())


def _own_message(session: Session, *, actor: Actor, message_id: object, action: str
                 ) -> tuple[Message, Conversation]:
    """The actor's own message in a conversation they can see, or NotFoundError (audited)."""
    number = message_id if isinstance(message_id, int) and 0 < message_id < 2**31 else None
    message = session.get(Message, number) if number is not None else None
    if message is None or message.sender_user_id != actor.user_id:
        _refuse(session, actor, message_id, action, Outcome.DENIED, None, "not own or absent")
        raise NotFoundError(INVALID_MESSAGE)
    # A conversation the actor no longer sees (left the care team) refuses the same way.
    return message, _visible_conversation(session, actor, message, action)


def _visible_conversation(session: Session, actor: Actor, message: Message,
                          action: str) -> Conversation:
    """The message's conversation if the actor sees it; else the same "Message not found."
    as for an id that does not exist (the denial is audited by the access check)."""
    try:
        return access_conversation(session, actor=actor,
                                   conversation_id=message.conversation_id, action=action)
    except NotFoundError:
        raise NotFoundError(INVALID_MESSAGE) from None


def _refuse(session: Session, actor: Actor, message_id: object, action: str, outcome: str,
            patient_id: int | None, why: str) -> None:
    # On a session of its own: the caller raises next and its unit of work rolls back.
    audit.record_apart(session, actor=actor, action=action, outcome=outcome,
                       object_type="message", object_id=str(message_id)[:64],
                       patient_id=patient_id, detail=why)


def _check_changeable(session: Session, actor: Actor, message: Message,
                      conversation: Conversation, action: str) -> None:
    if actor.role not in (Role.PATIENT, Role.PROVIDER):
        raise NotFoundError(INVALID_MESSAGE)
    why = ""
    if message_state(message) == MessageState.RETRACTED:
        why = "This message was already retracted."
    elif utcnow() - _aware(message.created_at) > window():
        minutes = get_settings().retract_window_minutes
        why = (f"A message can be retracted or corrected only within {minutes} minutes "
               "of sending.")
    if why:
        _refuse(session, actor, message.id, action, Outcome.REJECTED, conversation.patient_id,
                "already retracted" if "already" in why else "window passed")
        raise ValidationError(why)


def _next_revision_no(session: Session, message_id: int) -> int:
    last = session.exec(select(func.max(MessageRevision.revision_no))
                        .where(MessageRevision.message_id == message_id)).one()
    return int(last or 0) + 1


def _publish(session: Session, *, actor: Actor, message: Message,
             conversation: Conversation) -> MessageView:
    view = list_messages(session, conversation_id=message.conversation_id,
                         after_seq=message.seq - 1, limit=1)[0]
    events.record(session, events.DomainEvent(
        kind=events.Kind.MESSAGE_CHANGED, conversation_id=message.conversation_id,
        patient_id=conversation.patient_id, actor_user_id=actor.user_id, seq=message.seq,
        user_ids=tuple(participant_user_ids(session, conversation.patient_id)), message=view))
    return view


def _change(session: Session, *, actor: Actor, message: Message, conversation: Conversation,
            kind: MessageRevisionKind, new_text: str | None) -> MessageView:
    """Record one retraction (``new_text`` None) or correction of a checked message: the
    search index, the revision row (a correction's text sealed to this message, revision and
    editor), the message's mark, the audit row and the live event. Nothing is overwritten."""
    action = Action.MESSAGE_RETRACT if new_text is None else Action.MESSAGE_CORRECT
    now = utcnow()
    # Search finds it by its current words only: none once retracted.
    reindex_message(session, message_id=message.id or 0,
                    old_body=searchable_text(session, message), new_body=new_text or "")
    revision_no = _next_revision_no(session, message.id or 0)
    revision = MessageRevision(message_id=message.id or 0,
                               conversation_id=message.conversation_id,
                               revision_no=revision_no, kind=kind,
                               editor_user_id=actor.user_id, created_at=now)
    if new_text is None:
        message.retracted_at = now
    else:
        revision.body_ct, revision.key_id = crypto.encrypt_text(new_text, aad=crypto.revision_aad(
            message.conversation_id, message.id or 0, revision_no, actor.user_id))
        message.corrected_at = now
    session.add(revision)
    session.add(message)
    audit.record(session, actor=actor, action=action, outcome=Outcome.SUCCESS,
                 object_type="message", object_id=message.id or "",
                 patient_id=conversation.patient_id,
                 detail=f"conversation={conversation.id} seq={message.seq} "
                        f"revision={revision_no}")
    session.flush()
    return _publish(session, actor=actor, message=message, conversation=conversation)


def retract_message(session: Session, *, actor: Actor, message_id: int) -> MessageView:
    """Retract the actor's own message: it shows "Message retracted by the sender" to
    everyone; the original stays in the record."""
    message, conversation = _own_message(session, actor=actor, message_id=message_id,
                                         action=Action.MESSAGE_RETRACT)
    _check_changeable(session, actor, message, conversation, Action.MESSAGE_RETRACT)
    return _change(session, actor=actor, message=message, conversation=conversation,
                   kind=MessageRevisionKind.RETRACT, new_text=None)


def correct_message(session: Session, *, actor: Actor, message_id: int, body: str
                    ) -> MessageView:
    """Replace what the actor's own message says with ``body`` (shown marked "edited"); the
    original and every earlier correction stay in the record."""
    message, conversation = _own_message(session, actor=actor, message_id=message_id,
                                         action=Action.MESSAGE_CORRECT)
    text = validate_body(body, has_attachments=False)
    _check_changeable(session, actor, message, conversation, Action.MESSAGE_CORRECT)
    return _change(session, actor=actor, message=message, conversation=conversation,
                   kind=MessageRevisionKind.CORRECT, new_text=text)


@dataclass(frozen=True)
class HistoryEntry:
    """One step of a message's history: the original, a correction or the retraction."""

    kind: str  # original, correct, retract
    text: str
    at: datetime
    by: str
    # The original's files as (attachment id, name): kept in the record after a retraction,
    # when only providers may still open them (services/attachments.open_attachment).
    files: tuple[tuple[int, str], ...] = ()


def message_history(session: Session, *, actor: Actor, message_id: int) -> list[HistoryEntry]:
    """The original and every change of a message, oldest first (providers on the patient's
    care team only; anyone else gets "Message not found."). Audited."""
    number = message_id if isinstance(message_id, int) and 0 < message_id < 2**31 else None
    message = session.get(Message, number) if number is not None else None
    if message is None or actor.role != Role.PROVIDER:
        _refuse(session, actor, message_id, Action.MESSAGE_HISTORY, Outcome.DENIED, None,
                "not a provider or absent")
        raise NotFoundError(INVALID_MESSAGE)
    conversation = _visible_conversation(session, actor, message, Action.MESSAGE_HISTORY)
    revisions = session.exec(select(MessageRevision)
                             .where(MessageRevision.message_id == message.id)
                             .order_by(col(MessageRevision.revision_no))).all()
    user_ids = {message.sender_user_id} | {r.editor_user_id for r in revisions}
    names = dict(session.exec(select(User.id, User.display_name)
                              .where(col(User.id).in_(user_ids))).all())
    # ``aid`` is a selected primary key: never NULL.
    files = tuple((aid, name) for aid, name in session.exec(
        select(Attachment.id, Attachment.display_name)
        .where(Attachment.message_id == message.id)
        .order_by(col(Attachment.id))).all() if aid is not None)
    entries = [HistoryEntry("original", crypto.decrypt_body(message)[0], message.created_at,
                            names.get(message.sender_user_id, ""), files)]
    for revision in revisions:
        text = (decrypt_revision(revision)[0] if revision.kind == MessageRevisionKind.CORRECT
                else RETRACTED_TEXT)
        entries.append(HistoryEntry(revision.kind, text, revision.created_at,
                                    names.get(revision.editor_user_id, "")))
    audit.record(session, actor=actor, action=Action.MESSAGE_HISTORY, outcome=Outcome.SUCCESS,
                 object_type="message", object_id=message.id or "",
                 patient_id=conversation.patient_id, detail=f"{len(revisions)} changes")
    return entries
