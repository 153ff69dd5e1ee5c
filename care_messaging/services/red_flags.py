"""Red-flag safety net: a patient message naming an emergency sign gets the emergency line.

The phrases are a curated list in ``care_messaging/data/red_flags.txt`` (one per line),
matched case-insensitively on whole words and phrases ("stroke" matches "I think it's a
Stroke." but not "strokes"). Spacing and apostrophes are normalised (curly quotes, runs of
spaces and line breaks).

What a match does (``flag_conversation``, run in the transaction that stores the patient's
message, services/triage_events.py): the conversation's priority becomes urgent, it is marked
red-flagged and raised to the top of the team's list, and an audit row records it (without the
text or the phrase). What the patient sees (``SAFETY_NOTICE`` under their message) is built
from ``matches`` when the message is shown. Sending is never blocked, and nothing here claims
a diagnosis: the notice says what to do *if* it is an emergency.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from pathlib import Path

from sqlalchemy import update
from sqlmodel import Session, col

from care_messaging.models import Conversation, Priority
from care_messaging.services import audit
from care_messaging.services.audit import Outcome

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "red_flags.txt"
SAFETY_NOTICE = "If this is an emergency, call 911. For a mental-health crisis call or text 988."
RED_FLAG_ACTION = "red_flag"
ATTENTION_RED_FLAG = 2


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u2019", "'").replace("\u2018", "'")).lower()


@functools.cache
def phrases(path: Path = DATA_FILE) -> tuple[str, ...]:
    """The curated phrases (comments and blank lines skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(_normalise(line.strip()) for line in lines
                 if line.strip() and not line.lstrip().startswith("#"))


@functools.cache
def _pattern(path: Path = DATA_FILE) -> re.Pattern[str]:
    # Longest first so the reported phrase is the most specific one; \b on word characters
    # only, so a phrase ending in punctuation still needs a non-word neighbour.
    alternatives = sorted(phrases(path), key=len, reverse=True)
    body = "|".join(re.escape(p).replace(r"\ ", " ") for p in alternatives)
    return re.compile(rf"(?<![\w'-])(?:{body})(?![\w'-])")


def matches(text: str) -> list[str]:
    """The red-flag phrases found in ``text`` (empty when none)."""
    if not text:
        return []
    return sorted({m.group(0) for m in _pattern().finditer(_normalise(text))})


def is_red_flag(text: str) -> bool:
    return bool(text) and _pattern().search(_normalise(text)) is not None


def flag_conversation(session: Session, *, conversation_id: int, patient_id: int,
                      actor_user_id: int, at: datetime, phrase_count: int) -> None:
    """Mark the conversation urgent and red-flagged, at the top of the team's list; audited
    (how many phrases matched, never which: the audit trail holds no message content)."""
    session.execute(
        update(Conversation).where(col(Conversation.id) == conversation_id).values(
            priority=Priority.URGENT, red_flag_at=at, attention=ATTENTION_RED_FLAG))
    audit.record(session, action=RED_FLAG_ACTION, outcome=Outcome.SUCCESS,
                 actor_user_id=actor_user_id, actor_label="red-flag check",
                 object_type="conversation", object_id=conversation_id, patient_id=patient_id,
                 detail=f"matched={phrase_count} priority=urgent")
