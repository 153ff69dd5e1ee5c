"""Reply-by and red-flag bookkeeping of every stored message, and the escalation job.

In the transaction that stores a message (an in-transaction consumer of ``MESSAGE_SENT``,
services/events.py), so the marks commit with the message or not at all:

- a **patient's** message: red-flag check (services/red_flags.py); the conversation's
  ``reply_by_at`` is set from its priority if no earlier unanswered message set one (an
  urgent red flag can only bring it forward), and the conversation's ``reply_by_escalate``
  job is due by that moment (one waiting job per conversation, brought forward when a time
  is earlier: not a new job row for every message);
- a **provider's** message answers: ``reply_by_at``, ``escalated_at`` and the list raise are
  cleared (the red-flag mark and the urgent priority stay for the team to see).

``reply_by_escalate`` (at-least-once, idempotent): if the conversation's reply-by time is
still ahead (a later message after a reply set a new one), the job waits again until then; if
the conversation is still unanswered and past its reply-by time and not yet escalated for it, it is raised to the top of the list,
``escalated_at`` recorded, audited, and each care-team provider emailed once (no PHI: only
that a conversation on their team is past its reply-by time, with a sign-in link).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, null, or_, update
from sqlmodel import Session, col, select

from care_messaging import jobs
from care_messaging.db import session_scope
from care_messaging.models import (
    CareTeamMember,
    Conversation,
    ConversationStatus,
    Priority,
    Provider,
    Role,
    User,
    table_of,
    utcnow,
)
from care_messaging.services import audit, events, mail, red_flags, reply_by, triage_list
from care_messaging.services.audit import Outcome
from care_messaging.services.hot_sql import HotStatement, keep_loaded_in_step, take_note

log = logging.getLogger(__name__)

ESCALATE = "reply_by_escalate"
ESCALATE_ACTION = "reply_by_escalation"
ATTENTION_OVERDUE = 1
OVERDUE_SUBJECT = "A patient conversation is past its reply-by time"


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@events.in_transaction
def on_message_events(session: Session, batch: list[events.DomainEvent]) -> None:
    for event in batch:
        if event.kind != events.Kind.MESSAGE_SENT or event.message is None:
            continue
        if event.message.sender_role == Role.PROVIDER:
            _answered(session, event.conversation_id)
        elif event.message.sender_role == Role.PATIENT:
            _patient_wrote(session, event)


# They run with every message (in the send's commit): prebuilt (services/hot_sql.py), as
# building and compiling them per call cost more than running them.
_conversations = table_of(Conversation).c
_ANSWERED = HotStatement(
    update(table_of(Conversation))
    .where(_conversations.id == bindparam("b_id"),
           or_(_conversations.reply_by_at.is_not(None), _conversations.attention != 0))
    .values(reply_by_at=null(), escalated_at=null(), attention=0))
# What triage reads of a conversation when a message is sent. The send reads these columns
# of the row it locks (its read on PostgreSQL, its sequence-number update on SQLite:
# services/message_sending.py) and notes them for this transaction; only without that note
# are they read here (a patient's message) or written blind (a provider's reply).
TRIAGE_COLUMNS = ("priority", "reply_by_at", "attention")
_TRIAGE_STATE = HotStatement(select(*(_conversations[c] for c in TRIAGE_COLUMNS))
                             .where(_conversations.id == bindparam("b_id")))
_SET_REPLY_BY = HotStatement(update(table_of(Conversation))
                             .where(_conversations.id == bindparam("b_id"))
                             .values(reply_by_at=bindparam("b_due")))


def _answered(session: Session, conversation_id: int) -> None:
    noted = take_note(session, Conversation, conversation_id, TRIAGE_COLUMNS)
    if noted is not None and noted[1] is None and not noted[2]:
        return  # the send locked the row and read it: nothing pending to clear (_ANSWERED's test)
    # One statement that changes nothing on the usual reply (nothing pending): no read first.
    if _ANSWERED.execute(session, {"b_id": conversation_id}).rowcount:
        keep_loaded_in_step(session, Conversation, conversation_id, reply_by_at=None,
                            escalated_at=None, attention=0)


def _patient_wrote(session: Session, event: events.DomainEvent) -> None:
    view = event.message
    received = _aware(view.created_at) or utcnow()
    row = (take_note(session, Conversation, event.conversation_id, TRIAGE_COLUMNS)
           or _TRIAGE_STATE.execute(session, {"b_id": event.conversation_id}).first())
    if row is None:
        return
    priority, current = row[0], _aware(row[1])
    found = red_flags.matches(view.body)
    if found:
        red_flags.flag_conversation(session, conversation_id=event.conversation_id,
                                    patient_id=event.patient_id,
                                    actor_user_id=event.actor_user_id, at=received,
                                    phrase_count=len(found))
        priority = Priority.URGENT
    due = reply_by.reply_by(received, priority, reply_by.load(session))
    if current is not None and current <= due:
        return  # an earlier unanswered message already sets the time
    _SET_REPLY_BY.execute(session, {"b_id": event.conversation_id, "b_due": due})
    keep_loaded_in_step(session, Conversation, event.conversation_id, reply_by_at=due)
    _schedule(session, event.conversation_id, due)


def _schedule(session: Session, conversation_id: int, due: datetime) -> None:
    """The conversation's one waiting escalation job runs by ``due``: a patient writing after
    each reply moves the time later, and the job, run early, waits again (``escalate``)."""
    jobs.enqueue(session, ESCALATE, {"conversation_id": conversation_id}, run_at=due,
                 dedupe_key=f"{ESCALATE}:{conversation_id}", earliest=True)


def team_provider_users(session: Session, patient_id: int) -> list[User]:
    return list(session.exec(
        select(User).join(Provider, col(Provider.user_id) == User.id)
        .join(CareTeamMember, col(CareTeamMember.provider_id) == Provider.id)
        .where(CareTeamMember.patient_id == patient_id, User.is_active,
               User.role == Role.PROVIDER)
        .order_by(col(User.id))).all())


def overdue_email(user: User, conversation_id: int, key: str) -> mail.Email:
    from care_messaging.services.notifications import FOOTER, _message_id, sign_in_link

    link = sign_in_link(Role.PROVIDER, conversation_id)
    body = ("A patient conversation on your care team is past its reply-by time.\n\n"
            f"Sign in to see it:\n{link}\n\n{FOOTER}\n")
    return mail.Email(to=user.email, subject=OVERDUE_SUBJECT, body=body,
                      message_id=_message_id(key))


@jobs.handler(ESCALATE)
def escalate(args: dict[str, Any]) -> None:
    """Escalate one conversation if it is still unanswered past its reply-by time."""
    from care_messaging.services.notifications import _send_once

    conversation_id = int(args["conversation_id"])
    now = triage_list.clock()
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.status == ConversationStatus.COMPLETED:
            return
        due = _aware(conversation.reply_by_at)
        if due is None:
            return  # answered (the next patient message schedules again)
        if due > now:
            _schedule(session, conversation_id, due)  # a later time replaced the one it had
            return
        escalated = _aware(conversation.escalated_at)
        if escalated is None:
            # The claim: one UPDATE that only the first run makes (a second run finds
            # escalated_at set and stops here; the emails below are keyed as well).
            claimed = session.execute(
                update(Conversation).where(col(Conversation.id) == conversation_id,
                                           col(Conversation.escalated_at).is_(None))
                .values(escalated_at=now, attention=func.max(Conversation.attention,
                                                             ATTENTION_OVERDUE)
                        if session.get_bind().dialect.name == "sqlite"
                        else func.greatest(Conversation.attention, ATTENTION_OVERDUE))
            ).rowcount  # type: ignore[attr-defined]  # a CursorResult, typed as Result
            if claimed:
                audit.record(session, action=ESCALATE_ACTION, outcome=Outcome.SUCCESS,
                             actor_label="reply-by job", object_type="conversation",
                             object_id=conversation_id, patient_id=conversation.patient_id,
                             detail=f"reply_by={due.isoformat()}")
                # Open tabs move the conversation up (no text in the event).
                events.record(session, events.DomainEvent(
                    kind=events.Kind.CONVERSATION_CHANGED, conversation_id=conversation_id,
                    patient_id=conversation.patient_id, actor_user_id=0,
                    user_ids=tuple(u.id or 0 for u in team_provider_users(
                        session, conversation.patient_id))))
        # The job's unit of work commits the claim when this scope ends, before any email.
        team = team_provider_users(session, conversation.patient_id)
        patient_id = conversation.patient_id
    for user in team:
        key = f"overdue:{user.id}:{conversation_id}:{int(due.timestamp())}"
        _send_once(user=user, kind="overdue", key=key, conversation_id=conversation_id,
                   patient_id=patient_id, email=overdue_email(user, conversation_id, key))


def overdue_count(session: Session, *, patient_ids: Any, now: datetime) -> int:
    """Open conversations past their reply-by time among ``patient_ids`` (a subquery)."""
    return int(session.exec(
        select(func.count()).select_from(Conversation).where(
            col(Conversation.patient_id).in_(patient_ids),
            col(Conversation.reply_by_at).is_not(None), col(Conversation.reply_by_at) <= now,
            Conversation.status != ConversationStatus.COMPLETED)).one())
