"""Reading the audit trail: the admin's browser and CSV export, and "who viewed this".

Writing stays in services/audit.py; nothing here changes a row (the table is append-only).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import union_all
from sqlmodel import Session, col, func, select

from care_messaging.models import AuditEvent, Conversation, Patient, ReadState, Role, User
from care_messaging.services import audit, view_audit
from care_messaging.services.access import access_conversation
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import NotFoundError, ValidationError

EXPORT_LIMIT = 50_000
CSV_COLUMNS = ["id", "at_utc", "actor_user_id", "actor", "action", "object_type", "object_id",
               "patient_id", "outcome", "client_ip", "detail"]


@dataclass(frozen=True)
class AuditFilter:
    user: str = ""          # email (or part of it)
    patient: str = ""       # patient ID (MRN)
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None


def record_conversation_open(session: Session, *, actor: Actor, conversation: Conversation) -> None:
    """One row each time someone opens a conversation (read receipts are separate rows)."""
    audit.record(session, actor=actor, action=Action.CONVERSATION_OPEN, outcome=Outcome.SUCCESS,
                 object_type="conversation", object_id=conversation.id or "",
                 patient_id=conversation.patient_id)


def _require_admin(actor: Actor) -> None:
    if actor.role != Role.ADMIN:
        raise NotFoundError("Not found.")


def parse_day(value: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError("Dates must look like 2026-11-23.") from exc


def _query(session: Session, flt: AuditFilter) -> Any:
    query = select(AuditEvent)
    if flt.user.strip():
        query = query.where(func.lower(AuditEvent.actor_label).like(f"%{flt.user.strip().lower()}%"))
    if flt.patient.strip():
        ids = session.exec(select(Patient.id).where(
            func.lower(Patient.mrn) == flt.patient.strip().lower())).all()
        query = query.where(col(AuditEvent.patient_id).in_(ids or [-1]))
    if flt.action:
        query = query.where(AuditEvent.action == flt.action)
    if flt.date_from:
        query = query.where(AuditEvent.at >= datetime.combine(flt.date_from, time.min, UTC))
    if flt.date_to:
        query = query.where(AuditEvent.at < datetime.combine(flt.date_to + timedelta(days=1),
                                                              time.min, UTC))
    return query


def search(session: Session, *, actor: Actor, flt: AuditFilter, limit: int = 50,
           offset: int = 0) -> tuple[list[AuditEvent], int]:
    """A page of audit rows, newest first, and the total matching."""
    _require_admin(actor)
    query = _query(session, flt)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(AuditEvent.id).desc()).limit(max(1, min(limit, 200)))
                        .offset(max(0, offset))).all()
    # Reading the trail is itself recorded: its rows say who saw which patient's records.
    view_audit.record_audit_search(session, actor=actor, what=_describe(flt, offset),
                                   rows=len(rows))
    return list(rows), int(total)


def _describe(flt: AuditFilter, offset: int) -> str:
    parts = [f"{name}={value}" for name, value in (
        ("user", flt.user.strip()[:60]), ("patient", flt.patient.strip()[:20]),
        ("action", flt.action[:40]), ("from", flt.date_from or ""), ("to", flt.date_to or ""),
    ) if value]
    if offset:
        parts.append(f"offset={offset}")
    return "search " + (" ".join(parts) or "all")


def export_csv(session: Session, *, actor: Actor, flt: AuditFilter) -> str:
    """CSV of the matching rows (oldest first); the export itself is audited."""
    _require_admin(actor)
    rows = session.exec(_query(session, flt).order_by(col(AuditEvent.id)).limit(EXPORT_LIMIT)).all()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([r.id, r.at.astimezone(UTC).isoformat() if r.at.tzinfo else r.at.isoformat(),
                         r.actor_user_id or "", _csv_safe(r.actor_label), r.action, r.object_type,
                         r.object_id, r.patient_id or "", r.outcome, r.client_ip,
                         _csv_safe(r.detail)])
    audit.record(session, actor=actor, action=Action.EXPORT, outcome=Outcome.SUCCESS,
                 object_type="audit_events",
                 detail=f"{len(rows)} rows; user={flt.user!r} patient={flt.patient!r} "
                        f"action={flt.action!r} from={flt.date_from} to={flt.date_to}")
    return out.getvalue()


def _csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in free-text cells."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


@dataclass(frozen=True)
class Viewer:
    name: str
    at: datetime


def conversation_viewers(session: Session, *, actor: Actor, conversation_id: int) -> list[Viewer]:
    """Who on the care team has seen this conversation, and when they last did (newest first).

    Seeing it is opening it (an audited open) *or* having read its messages (the read state
    that the "Read" receipts come from, which also covers reads before opens were audited and
    a provider's own replies): so the list never says "nobody" beside a "Read" receipt.
    Only the patient the conversation belongs to may ask.
    """
    conversation = access_conversation(session, actor=actor, conversation_id=conversation_id)
    if actor.role != Role.PATIENT:
        raise NotFoundError("Conversation not found.")
    # One statement (it runs in every live refresh of an open chat): the opens and the reads,
    # each provider's latest, with their names.
    seen = union_all(
        select(col(AuditEvent.actor_user_id).label("user_id"), col(AuditEvent.at).label("at"))
        .where(AuditEvent.object_type == "conversation",
               AuditEvent.object_id == str(conversation.id),
               AuditEvent.action == Action.CONVERSATION_OPEN,
               AuditEvent.outcome == Outcome.SUCCESS),
        select(col(ReadState.user_id).label("user_id"),
               func.coalesce(ReadState.read_at, ReadState.delivered_at).label("at"))
        .where(ReadState.conversation_id == conversation.id, ReadState.last_read_seq > 0),
    ).subquery()
    rows = session.exec(
        select(User.display_name, func.max(seen.c.at))
        .join(seen, seen.c.user_id == User.id)
        .where(User.role == Role.PROVIDER, seen.c.at.is_not(None))
        .group_by(col(User.id), col(User.display_name))
    ).all()
    viewers = [Viewer(name=name, at=_aware(at)) for name, at in rows]
    return sorted(viewers, key=lambda v: v.at, reverse=True)


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
