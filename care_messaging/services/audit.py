"""Audit trail: one row per security-relevant action, written in the caller's transaction.

Rows never contain message bodies. The table is append-only (triggers in the migration).
A refusal's row (the caller raises next, and its unit of work rolls back) is written apart
from the caller's transaction (``record_apart``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from care_messaging.models import AuditEvent, table_of, utcnow
from care_messaging.services.actors import Actor
from care_messaging.services.hot_sql import HotStatement


class Action:
    LOGIN = "login"
    LOGOUT = "logout"
    TIMEOUT = "session_timeout"
    CONVERSATION_OPEN = "conversation_open"
    CONVERSATION_CREATE = "conversation_create"
    MESSAGE_SEND = "message_send"
    MESSAGE_READ = "message_read"
    MESSAGE_SEARCH = "message_search"
    MESSAGE_RETRACT = "message_retract"
    MESSAGE_CORRECT = "message_correct"
    MESSAGE_HISTORY = "message_history"
    STATUS_CHANGE = "status_change"
    PRIORITY_CHANGE = "priority_change"
    ATTACHMENT_UPLOAD = "attachment_upload"
    ATTACHMENT_DOWNLOAD = "attachment_download"
    ATTACHMENT_DISCARD = "attachment_discard"
    PATIENT_VIEW = "patient_view"
    LIST_VIEW = "list_view"
    ACCESS = "access"
    EXPORT = "audit_export"
    AUDIT_SEARCH = "audit_search"
    TOTP_CHANGE = "totp_change"
    USER_DISABLE = "user_disable"
    KEY_ROTATION = "key_rotation"
    NOTIFICATION_EMAIL = "notification_email"
    PREFERENCES_CHANGE = "preferences_change"
    FHIR_EXPORT = "fhir_export"
    FHIR_IMPORT = "fhir_import"
    CONVERSATION_ASSIGN = "conversation_assign"
    NOTE_ADD = "internal_note_add"
    NOTE_VIEW = "internal_note_view"
    CLINIC_LEAD_CHANGE = "clinic_lead_change"


class Outcome:
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"
    REJECTED = "rejected"


# On the DBAPI cursor (services/hot_sql.py): one runs with every message sent and read.
_INSERT = HotStatement(insert(table_of(AuditEvent)))


def record(
    session: Session,
    *,
    action: str,
    outcome: str,
    actor: Actor | None = None,
    actor_user_id: int | None = None,
    actor_label: str = "",
    object_type: str = "",
    object_id: str | int = "",
    patient_id: int | None = None,
    client_ip: str = "",
    detail: str = "",
    at: datetime | None = None,
) -> None:
    """Add one audit row in ``session``'s transaction (the caller commits it with the change).

    A plain INSERT rather than an ORM object: one runs with every message sent and read.
    """
    _INSERT.execute(session, by_columns=True, params=dict(
        at=at or utcnow(),
        actor_user_id=actor.user_id if actor else actor_user_id,
        actor_label=actor.email if actor else actor_label,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        patient_id=patient_id,
        outcome=outcome,
        client_ip=(actor.client_ip if actor and not client_ip else client_ip)[:64],
        detail=detail[:500],
    ))


_APART = "care_audit_apart"


def record_apart(session: Session, **fields: Any) -> None:
    """Write one audit row (``record``'s fields) that outlives the caller's transaction: a
    denial or refusal, after which the caller raises and its unit of work rolls back.

    The row is committed on a session of its own, so nothing the caller holds is committed
    with it. SQLite has a single writer: when the caller's connection already holds the write
    lock (it has written in this transaction), a second connection would wait on this same
    thread until the busy timeout, so the row is written right after the caller's transaction
    ends instead, whether it commits or rolls back.
    """
    if _holds_sqlite_write_lock(session):
        session.info.setdefault(_APART, []).append(fields)
        return
    _write_apart(session, [fields])


def _holds_sqlite_write_lock(session: Session) -> bool:
    if not session.in_transaction():
        return False
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return False
    driver_connection = connection.connection.driver_connection
    # A connection the session has checked out of the pool always holds its DBAPI one.
    assert driver_connection is not None
    return bool(driver_connection.in_transaction)


def _write_apart(session: OrmSession, rows: list[dict[str, Any]]) -> None:
    with Session(session.get_bind(), expire_on_commit=False) as own:
        for fields in rows:
            record(own, **fields)
        own.commit()


@sa_event.listens_for(OrmSession, "after_transaction_end")
def _write_deferred(session: OrmSession, transaction: Any) -> None:
    if transaction.parent is None and session.info.get(_APART):
        _write_apart(session, session.info.pop(_APART))
