"""Domain events, handed on only after the transaction that recorded them commits.

A service that changes something calls ``record(session, DomainEvent(...))`` in the same
transaction as the change (Zulip's ``send_event_on_commit`` is the model). Two kinds of
consumers see the events:

- **in-transaction consumers** (``on_commit(..., durable=True)``) run just before the commit,
  on the same session: what they write (a job row for a later email) commits or rolls back
  with the change itself, so a notification is never lost and never sent for a message that
  was not stored;
- **after-commit consumers** (``on_commit(...)``) run once the commit has succeeded: live
  delivery to open tabs. A rolled-back transaction hands on nothing.

Any caller of the services (a page, the CLI, a job, a future API) gets the same fan-out. The
events live in ``session.info`` until the root transaction ends; savepoints are not used by
the services, and a rollback drops every event the session holds (never publish what may
have been undone).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from sqlmodel import Session as SQLModelSession

log = logging.getLogger(__name__)

_KEY = "care_domain_events"


class Kind(StrEnum):
    """What a domain event says happened (a StrEnum: it equals its value in job rows)."""

    MESSAGE_SENT = "message_sent"
    MESSAGE_CHANGED = "message_changed"  # retracted or corrected (services/message_changes.py)
    CONVERSATION_CREATED = "conversation_created"
    CONVERSATION_CHANGED = "conversation_changed"  # status or priority
    READ = "read"
    DELIVERED = "delivered"
    # Who is handling it changed (services/assignment.py): the team and the patient hear of it.
    ASSIGNED = "conversation_assigned"
    # A staff-only note (services/internal_notes.py): only the care team's providers hear of
    # it, and the event carries no text (tabs reload notes through the access-checked service).
    NOTE_ADDED = "internal_note_added"


# The browser tab whose handler caused the change (set by the Reflex layer for the duration of
# one event): live delivery skips that tab, which has already shown its own change.
origin_tab: contextvars.ContextVar[str] = contextvars.ContextVar("origin_tab", default="")


@dataclass(frozen=True)
class DomainEvent:
    """Something that changed, as committed. No message text except ``message`` (the stored
    message's view, for live delivery only: consumers that leave the process never read it)."""

    kind: Kind
    conversation_id: int
    patient_id: int
    actor_user_id: int
    seq: int = 0
    # Who must hear of it (the conversation's participants as read in the same transaction,
    # or the users a receipt is for).
    user_ids: tuple[int, ...] = ()
    message: Any = field(default=None, compare=False, repr=False)
    origin: str = ""


Consumer = Callable[[list[DomainEvent]], None]
# Durable consumers query with ``session.exec``: the sessions that record events are the
# app's SQLModel sessions (``session_scope``, the services' callers).
DurableConsumer = Callable[[SQLModelSession, list[DomainEvent]], None]
_after_commit: list[Consumer] = []
_in_transaction: list[DurableConsumer] = []


def on_commit(consumer: Consumer) -> Consumer:
    """Call ``consumer(events)`` after every commit that recorded events (in that thread)."""
    if consumer not in _after_commit:
        _after_commit.append(consumer)
    return consumer


def in_transaction(consumer: DurableConsumer) -> DurableConsumer:
    """Call ``consumer(session, events)`` inside the transaction, just before it commits."""
    if consumer not in _in_transaction:
        _in_transaction.append(consumer)
    return consumer


def remove(consumer: Callable[..., None]) -> None:
    """Unregister a consumer (tests)."""
    for registry in (_after_commit, _in_transaction):
        if consumer in registry:
            registry.remove(consumer)


def record(session: Session, event: DomainEvent) -> None:
    """Queue ``event`` on ``session``'s transaction; consumers see it once that commits."""
    if not event.origin and origin_tab.get():
        event = DomainEvent(**{**event.__dict__, "origin": origin_tab.get()})
    session.info.setdefault(_KEY, []).append(event)


def pending(session: Session) -> list[DomainEvent]:
    """The events recorded in the open transaction (tests and debugging)."""
    return list(session.info.get(_KEY, ()))


@sa_event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    events = session.info.get(_KEY)
    if events:
        for consumer in list(_in_transaction):
            # An error here aborts the commit: the change and its durable follow-ups go
            # together or not at all.
            consumer(cast(SQLModelSession, session), list(events))


@sa_event.listens_for(Session, "after_commit")
def _after_commit_hook(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the outer transaction may still roll back
    events = session.info.pop(_KEY, None)
    if not events:
        return
    for consumer in list(_after_commit):
        try:
            consumer(events)
        except Exception:  # the change is committed; one failing consumer must not undo it
            log.exception("domain event consumer %r failed", consumer)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint a consumer used (a duplicate job): the change itself stands
    session.info.pop(_KEY, None)


@sa_event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    # A root transaction closed without a commit (the session was closed): nothing committed.
    if transaction.parent is None:
        session.info.pop(_KEY, None)
