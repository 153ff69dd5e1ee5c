"""Email notifications with no PHI: new messages, reminders and the providers' daily digest.

No email ever names a person, topic, text, diagnosis or file: only that there is something
to read, and a sign-in link to the conversation (or the dashboard). What is emailed is
decided by jobs, never by an open tab:

- every stored message schedules one ``notify_unread`` job per conversation, run after
  ``CARE_NOTIFY_DELAY_SECONDS`` (messages in the meantime join the waiting job); the job emails
  each participant who still has not read the conversation, at most one email per user per
  delay window (a user emailed recently is checked again when their window ends);
- ``reminder_sweep`` reminds a patient once about a care-team message unread for 48 hours;
- ``daily_digest`` gives each provider the count of patient conversations awaiting a reply.

Exactly once as far as we can: each email is claimed under a unique key (``sent_notifications``)
in a committed transaction *before* the SMTP conversation, so a job that runs again never
sends it twice; an SMTP failure releases the claim and the job retries. A worker killed
during the SMTP conversation itself leaves the claim: that one email may be missing, never
doubled. Every email sent is audited (recipient, time, conversation id).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from care_messaging import jobs
from care_messaging.db import session_scope
from care_messaging.jobs import periodic
from care_messaging.models import (
    CareTeamMember,
    Conversation,
    ConversationStatus,
    Message,
    NotificationPreference,
    Patient,
    Provider,
    ReadState,
    Role,
    SentNotification,
    User,
    id_of,
    utcnow,
)
from care_messaging.navigation import landing_for
from care_messaging.services import audit, events, mail
from care_messaging.services.access import participant_user_ids
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.settings import get_settings

log = logging.getLogger(__name__)

NOTIFY_UNREAD = "notify_unread"
NEW_MESSAGE_SUBJECT = "You have a new secure message"
REMINDER_SUBJECT = "Reminder: you have an unread secure message"
DIGEST_SUBJECT = "Your daily Care Messaging summary"
FOOTER = ("For your privacy this email never contains the message itself. You can turn these "
          "emails off on your account page after you sign in.")
# Reminders look back this far past the reminder age: an old unread message from before the
# feature (or a long outage) is not reminded about years later.
REMINDER_LOOKBACK = timedelta(hours=24)


# ----- scheduling (in the sender's transaction) -----
@events.in_transaction
def schedule_on_events(session: Session, batch: list[events.DomainEvent]) -> None:
    """A stored message schedules the unread check for its conversation, in its transaction:
    the message and the job commit together, so no notification is lost to a crash."""
    delay = timedelta(seconds=get_settings().notify_delay_seconds)
    done: set[int] = set()
    for event in batch:
        if event.kind == events.Kind.MESSAGE_SENT and event.conversation_id not in done:
            done.add(event.conversation_id)
            jobs.enqueue(session, NOTIFY_UNREAD, {"conversation_id": event.conversation_id},
                         run_at=utcnow() + delay, dedupe_key=f"notify:{event.conversation_id}")


# ----- links and texts -----
def sign_in_link(role: str, conversation_id: int | None) -> str:
    page = landing_for(role)
    target = f"{page}?c={conversation_id}" if conversation_id else page
    return f"{get_settings().public_origin}/login?next={quote(target, safe='')}"


def new_message_email(user: User, conversation_id: int, key: str) -> mail.Email:
    link = sign_in_link(user.role, conversation_id)
    body = f"You have a new secure message.\n\nSign in to read it:\n{link}\n\n{FOOTER}\n"
    return mail.Email(to=user.email, subject=NEW_MESSAGE_SUBJECT, body=body,
                      message_id=_message_id(key))


def reminder_email(user: User, conversation_id: int, key: str) -> mail.Email:
    link = sign_in_link(user.role, conversation_id)
    body = (f"You have a secure message from your care team that you have not read yet.\n\n"
            f"Sign in to read it:\n{link}\n\n{FOOTER}\n")
    return mail.Email(to=user.email, subject=REMINDER_SUBJECT, body=body,
                      message_id=_message_id(key))


def digest_email(user: User, waiting: int, key: str) -> mail.Email:
    link = sign_in_link(Role.PROVIDER, None)
    noun = "conversation is" if waiting == 1 else "conversations are"
    body = (f"{waiting} patient {noun} waiting for a reply from your care teams.\n\n"
            f"Sign in to see them:\n{link}\n\n{FOOTER}\n")
    return mail.Email(to=user.email, subject=DIGEST_SUBJECT, body=body,
                      message_id=_message_id(key))


def _message_id(key: str) -> str:
    return f"<{key.replace(':', '.')}@care-messaging>"


# ----- preferences -----
def preferences(session: Session, user_id: int) -> NotificationPreference:
    """The user's choices (both on when never set)."""
    return session.get(NotificationPreference, user_id) or NotificationPreference(user_id=user_id)


def set_preferences(session: Session, *, actor: Actor, email_on: bool, digest_on: bool) -> None:
    """Save the signed-in user's email choices, audited."""
    row = session.get(NotificationPreference, actor.user_id) or NotificationPreference(
        user_id=actor.user_id)
    row.email_on, row.digest_on, row.updated_at = bool(email_on), bool(digest_on), utcnow()
    session.add(row)
    audit.record(session, actor=actor, action=Action.PREFERENCES_CHANGE, outcome=Outcome.SUCCESS,
                 object_type="user", object_id=actor.user_id,
                 detail=f"email={'on' if email_on else 'off'} digest={'on' if digest_on else 'off'}")


# ----- sending exactly once -----
def _send_once(*, user: User, kind: str, key: str, email: mail.Email,
               conversation_id: int | None, up_to_seq: int = 0,
               patient_id: int | None = None) -> bool:
    """Claim ``key``, send, mark sent and audit; False when it was claimed before."""
    with session_scope() as session:
        session.add(SentNotification(dedupe_key=key, user_id=user.id or 0, kind=kind,
                                     conversation_id=conversation_id, up_to_seq=up_to_seq))
        try:
            session.flush()  # the claim's unique key decides here; the scope commits it
        except IntegrityError:
            session.rollback()
            return False  # sent (or being sent) by an earlier run of this job
    try:
        mail.send(email)
    except Exception:
        with session_scope() as session:  # release the claim: the job's retry sends it
            session.execute(delete(SentNotification).where(col(SentNotification.dedupe_key) == key))
            audit.record(session, action=Action.NOTIFICATION_EMAIL, outcome=Outcome.FAILURE,
                         actor_label="notifier", object_type="conversation",
                         object_id=conversation_id or "", patient_id=patient_id,
                         detail=f"kind={kind} recipient_user={user.id}")
        raise
    with session_scope() as session:
        session.execute(update(SentNotification).where(col(SentNotification.dedupe_key) == key)
                        .values(status="sent", sent_at=utcnow()))
        audit.record(session, action=Action.NOTIFICATION_EMAIL, outcome=Outcome.SUCCESS,
                     actor_label="notifier", object_type="conversation",
                     object_id=conversation_id or "", patient_id=patient_id,
                     detail=f"kind={kind} recipient_user={user.id}")
    return True


def _last_email_at(session: Session, user_id: int) -> datetime | None:
    return session.exec(
        select(func.max(SentNotification.created_at)).where(
            SentNotification.user_id == user_id,
            col(SentNotification.kind).in_(("new_message", "reminder")))
    ).one()


def _notified_up_to(session: Session, user_id: int, conversation_id: int) -> int:
    return session.exec(
        select(func.coalesce(func.max(SentNotification.up_to_seq), 0)).where(
            SentNotification.user_id == user_id,
            SentNotification.conversation_id == conversation_id,
            SentNotification.kind == "new_message")
    ).one()


# ----- job handlers -----
@jobs.handler(NOTIFY_UNREAD)
def notify_unread(args: dict[str, Any]) -> None:
    """Email every participant of a conversation who has not read it (see module doc)."""
    conversation_id = int(args["conversation_id"])
    delay = timedelta(seconds=get_settings().notify_delay_seconds)
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return
        last_seq, patient_id = conversation.last_seq, conversation.patient_id
        recipients = participant_user_ids(session, patient_id)
        reads = {r.user_id: r.last_read_seq for r in session.exec(
            select(ReadState).where(ReadState.conversation_id == conversation_id,
                                    col(ReadState.user_id).in_(recipients)))}
        users = {u.id: u for u in session.exec(
            select(User).where(col(User.id).in_(recipients), User.is_active))}
        todo: list[tuple[User, int]] = []
        retry_at: datetime | None = None
        for user_id in recipients:
            # Read (or sent by them: a sender's own read mark moves with each send).
            if reads.get(user_id, 0) >= last_seq or user_id not in users:
                continue
            if not preferences(session, user_id).email_on:
                continue
            if _notified_up_to(session, user_id, conversation_id) >= last_seq:
                continue  # already told about every one of these messages
            last = _last_email_at(session, user_id)
            if last is not None and utcnow() - last < delay:
                # One email per user per window: check again when theirs ends.
                retry_at = min(retry_at or last + delay, last + delay)
                continue
            todo.append((users[user_id], last_seq))
        if retry_at is not None:
            jobs.enqueue(session, NOTIFY_UNREAD, {"conversation_id": conversation_id},
                         run_at=retry_at, dedupe_key=f"notify:{conversation_id}")
    for user, seq in todo:
        key = f"new_message:{user.id}:{conversation_id}:{seq}"
        _send_once(user=user, kind="new_message", key=key, conversation_id=conversation_id,
                   up_to_seq=seq, patient_id=patient_id,
                   email=new_message_email(user, conversation_id, key))


@jobs.handler(periodic.REMINDER_SWEEP)
def reminder_sweep(args: dict[str, Any]) -> None:
    """Remind patients once about a care-team message unread for ``CARE_REMINDER_HOURS``."""
    hours = get_settings().reminder_hours
    if hours <= 0:
        return
    cutoff = utcnow() - timedelta(hours=hours)
    read_seq = func.coalesce(ReadState.last_read_seq, 0)
    with session_scope() as session:
        rows = session.exec(
            select(User, Conversation.id, Conversation.patient_id, Message.seq)
            .join(Patient, col(Patient.id) == Conversation.patient_id)
            .join(User, col(User.id) == Patient.user_id)
            .outerjoin(ReadState, (col(ReadState.conversation_id) == Conversation.id)
                       & (ReadState.user_id == Patient.user_id))
            # The oldest unread message (a patient's own sends move their read mark).
            .join(Message, (col(Message.conversation_id) == Conversation.id)
                  & (Message.seq == read_seq + 1))
            .where(Conversation.last_seq > read_seq, User.is_active,
                   Message.created_at <= cutoff, Message.created_at > cutoff - REMINDER_LOOKBACK)
        ).all()
        # ``cid`` is a selected primary key: never NULL.
        wanted = [(u, cid, pid, seq) for u, cid, pid, seq in rows
                  if cid is not None and preferences(session, id_of(u)).email_on]
    for user, conversation_id, patient_id, seq in wanted:
        key = f"reminder:{user.id}:{conversation_id}:{seq}"
        _send_once(user=user, kind="reminder", key=key, conversation_id=conversation_id,
                   up_to_seq=seq, patient_id=patient_id,
                   email=reminder_email(user, conversation_id, key))


def waiting_counts(session: Session) -> dict[int, int]:
    """Per provider user: patient conversations on their teams whose latest message is the
    patient's (not completed), i.e. still awaiting a reply. Counts only."""
    rows = session.exec(
        select(col(Provider.user_id), func.count(col(Conversation.id)))
        .join(CareTeamMember, col(CareTeamMember.provider_id) == Provider.id)
        .join(Conversation, col(Conversation.patient_id) == CareTeamMember.patient_id)
        .join(Patient, col(Patient.id) == Conversation.patient_id)
        .join(Message, col(Message.id) == Conversation.last_message_id)
        .where(Message.sender_user_id == Patient.user_id,
               Conversation.status != ConversationStatus.COMPLETED)
        .group_by(col(Provider.user_id))
    ).all()
    return dict(rows)


@jobs.handler(periodic.DAILY_DIGEST)
def daily_digest(args: dict[str, Any]) -> None:
    """Each provider with the digest on: how many patient conversations await a reply."""
    day = str(args.get("day") or date.today().isoformat())
    with session_scope() as session:
        counts = waiting_counts(session)
        users = session.exec(select(User).where(col(User.id).in_(list(counts)),
                                                User.is_active)).all()
        wanted = [(u, counts[id_of(u)]) for u in users
                  if counts.get(id_of(u)) and preferences(session, id_of(u)).digest_on]
    for user, waiting in wanted:
        key = f"digest:{user.id}:{day}"
        _send_once(user=user, kind="digest", key=key, conversation_id=None,
                   email=digest_email(user, waiting, key))
