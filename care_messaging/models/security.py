"""Sign-in and the record of access: audit events, sessions and login throttles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from care_messaging.models.common import (
    utcnow,
)


class AuditEvent(SQLModel, table=True):
    """Append-only: database triggers refuse UPDATE and DELETE (see the migration)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_actor_at", "actor_user_id", "at"),
        Index("ix_audit_patient_at", "patient_id", "at"),
        Index("ix_audit_object", "object_type", "object_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor_user_id: int | None = Field(default=None)
    actor_label: str = Field(default="", max_length=254)
    action: str = Field(max_length=40)
    object_type: str = Field(default="", max_length=30)
    object_id: str = Field(default="", max_length=64)
    patient_id: int | None = Field(default=None)
    outcome: str = Field(max_length=20)
    client_ip: str = Field(default="", max_length=64)
    detail: str = Field(default="", max_length=500)


class AuthSession(SQLModel, table=True):
    """A server-side sign-in session. Only a SHA-256 of the token is stored."""

    __tablename__ = "auth_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str = Field(default="", max_length=40)
    client_ip: str = Field(default="", max_length=64)
    # One-time hand-off ticket: the login handler gets it, the cookie route exchanges it.
    handoff_hash: str | None = Field(default=None, unique=True, max_length=64)
    handoff_expires_at: datetime | None = None


class LoginThrottle(SQLModel, table=True):
    """Failed-login counter per normalised email, kept for unknown emails too."""

    __tablename__ = "login_throttles"

    key: str = Field(primary_key=True, max_length=254)
    failures: int = Field(default=0)
    window_started_at: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None
