"""Audit trail: one row per security-relevant action, written in the caller's transaction.

Rows never contain message bodies. The table is append-only (triggers in the migration).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session

from care_messaging.models import AuditEvent, utcnow
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
_INSERT = HotStatement(insert(AuditEvent.__table__))


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
