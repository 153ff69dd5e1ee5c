"""Messages per patient per UTC day, kept as a counter so the dashboard chart stays O(days).

``count_message`` runs in the same transaction as the message insert (an upsert, so the first
message of a day creates the row). ``rebuild`` recomputes the table from the messages (after a
bulk load, and in the migration that introduced it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import bindparam, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from care_messaging.models import MessageDailyCount, table_of
from care_messaging.services.hot_sql import HotStatement


def utc_day(at: datetime) -> date:
    return (at.astimezone(UTC) if at.tzinfo else at).date()


def _upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = table_of(MessageDailyCount)
    statement = insert(table).values(
        patient_id=bindparam("patient_id"), day=bindparam("day"), messages=1)
    return statement.on_conflict_do_update(
        index_elements=["patient_id", "day"],
        set_={"messages": table.c.messages + 1},
    )


_UPSERT = {dialect: HotStatement(_upsert(dialect)) for dialect in ("sqlite", "postgresql")}


def count_message(session: Session, *, patient_id: int, at: datetime) -> None:
    """Add one message to its patient's day (the statement is built once: it runs per send)."""
    _UPSERT[session.get_bind().dialect.name].execute(
        session, {"patient_id": patient_id, "day": utc_day(at)})


def rebuild_statements(dialect: str) -> list[str]:
    """SQL that recomputes every row from the messages table (one grouped pass); also run
    on raw connections by the bench loader."""
    day = "CAST(m.created_at AS date)" if dialect == "postgresql" else "date(m.created_at)"
    return [
        "DELETE FROM message_daily_counts",
        "INSERT INTO message_daily_counts (patient_id, day, messages) "
        f"SELECT c.patient_id, {day}, count(*) FROM messages m "
        f"JOIN conversations c ON c.id = m.conversation_id GROUP BY c.patient_id, {day}",
    ]


def rebuild(session: Session) -> None:
    """Recompute the table after messages were inserted in bulk."""
    for statement in rebuild_statements(session.get_bind().dialect.name):
        session.execute(text(statement))


def per_day(session: Session, *, patient_ids: Any, since: date) -> dict[date, int]:
    """Messages per day since ``since`` for the patients in ``patient_ids`` (a subquery)."""
    rows = session.exec(
        select(col(MessageDailyCount.day), func.sum(MessageDailyCount.messages))
        .where(col(MessageDailyCount.patient_id).in_(patient_ids),
               col(MessageDailyCount.day) >= since)
        .group_by(col(MessageDailyCount.day))
    ).all()
    return {(d if isinstance(d, date) else date.fromisoformat(str(d))): int(n) for d, n in rows}
