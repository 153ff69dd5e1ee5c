"""What the conversation list needs of the triage marks (services/triage.py): the overdue
filter's condition and each row's marks. Kept apart so services/conversations.py only wires."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BindParameter
from sqlmodel import col

from care_messaging.models import Conversation, ConversationStatus, utcnow

# The clock of everything that asks "is it overdue?" (lists, the escalation job, the
# response-times page): tests pin it; the job runner itself uses real time for due jobs.
clock: Callable[[], datetime] = utcnow


def overdue_clause(now: datetime | BindParameter[Any]) -> tuple[Any, ...]:
    """Open conversations whose oldest unanswered patient message is past its reply-by time
    (``now``: a bound parameter or a datetime)."""
    return (col(Conversation.reply_by_at).is_not(None), col(Conversation.reply_by_at) <= now,
            Conversation.status != ConversationStatus.COMPLETED)


def row_marks(conversation: Conversation, now: datetime) -> dict[str, Any]:
    due = conversation.reply_by_at
    if due is not None and due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    return {"red_flag": conversation.red_flag_at is not None,
            "overdue": due is not None and due <= now
            and conversation.status != ConversationStatus.COMPLETED,
            "reply_by_at": due}
