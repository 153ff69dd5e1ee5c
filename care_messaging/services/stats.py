"""Dashboard statistics for a provider, scoped to the patients the provider may see.

Plain Python over SQL aggregates: the counts come from denormalised counters
(``Conversation.last_seq``, ``ReadState.last_read_seq``), so they cost the same for any
history size. Nothing here imports Reflex.
"""

from __future__ import annotations

import functools
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from care_messaging.models import Conversation, Role, User, utcnow
from care_messaging.services import daily_counts
from care_messaging.services.access import (
    visibility_scope,
    visible_patient_ids,
    visible_patient_ids_bound,
)
from care_messaging.services.actors import Actor
from care_messaging.services.conversation_list import unread_total

CHART_DAYS = 30


@dataclass(frozen=True)
class DayCount:
    day: date
    messages: int


def _visible(actor: Actor) -> Any:
    return col(Conversation.patient_id).in_(visible_patient_ids(actor))


def _naive_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def messages_per_day(
    session: Session, *, actor: Actor, days: int = CHART_DAYS, today: date | None = None
) -> list[DayCount]:
    """Messages per UTC day in visible conversations, oldest first, zero-filled."""
    today = today or utcnow().date()
    start = today - timedelta(days=days - 1)
    # From the per-patient daily counters: at most ``days`` rows per visible patient.
    counts = daily_counts.per_day(session, patient_ids=visible_patient_ids(actor), since=start)
    return [DayCount(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0))
            for i in range(days)]


def median_first_reply_seconds(session: Session, *, actor: Actor) -> float | None:
    """Median time from a patient starting a conversation to the first provider reply."""
    rows = session.exec(
        select(Conversation.created_at, Conversation.first_provider_reply_at)
        .join(User, col(User.id) == Conversation.created_by_user_id)
        .where(
            _visible(actor),
            User.role == Role.PATIENT,
            col(Conversation.first_provider_reply_at).is_not(None),
        )
    ).all()
    waits = [
        max(0.0, (_naive_utc(replied) - _naive_utc(created)).total_seconds())
        for created, replied in rows
        if replied is not None  # the query keeps only replied ones
    ]
    return statistics.median(waits) if waits else None


@dataclass(frozen=True)
class DashboardCounts:
    total_conversations: int
    unread_messages: int
    unique_patients: int
    total_messages: int


@functools.lru_cache(maxsize=8)
def _cards_statement(scope: str) -> Any:
    """Built once per kind of actor (a live burst recomputes the cards of every tab)."""
    return select(
        func.count(col(Conversation.id)),
        func.count(func.distinct(Conversation.patient_id)),
        func.coalesce(func.sum(Conversation.last_seq), 0),
    ).where(col(Conversation.patient_id).in_(visible_patient_ids_bound(scope)))


def dashboard_counts(session: Session, *, actor: Actor) -> DashboardCounts:
    """The four cards only: what changes with every new message, from counters."""
    scope, params = visibility_scope(actor)
    total, patients, messages = session.exec(_cards_statement(scope), params=params).one()
    return DashboardCounts(int(total), unread_total(session, actor=actor), int(patients),
                           int(messages))


def format_duration(seconds: float | None) -> str:
    """A short human duration: "—", "45 min", "3.5 h", "2.1 days"."""
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
