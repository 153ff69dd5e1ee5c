"""Durable jobs and what they send: the job queue, sent notifications and each user's
notification choices.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, text
from sqlmodel import Field, SQLModel

from care_messaging.models.common import (
    utcnow,
)


class Job(SQLModel, table=True):
    """A durable background job on the embedded default (care_messaging/jobs/embedded.py).

    ``dedupe_key``: at most one *queued* job per key (a partial unique index), so a burst of
    messages schedules one notification check, not one per message.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "status", "run_at"),
        Index("uq_jobs_queued_dedupe", "dedupe_key", unique=True,
              sqlite_where=text("status = 'queued'"),
              postgresql_where=text("status = 'queued'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    args: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default="queued", max_length=12)  # queued, running, done, failed
    run_at: datetime = Field(default_factory=utcnow)
    attempts: int = Field(default=0)
    max_attempts: int = Field(default=8)
    locked_by: str = Field(default="", max_length=64)
    locked_until: datetime | None = None
    dedupe_key: str | None = Field(default=None, max_length=200)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class SentNotification(SQLModel, table=True):
    """One email the app decided to send: claimed (``sending``) before the SMTP conversation
    and marked ``sent`` after it, under a unique key, so a job run again never sends it twice.
    Holds no PHI: who, what kind, which conversation id."""

    __tablename__ = "sent_notifications"
    __table_args__ = (Index("ix_sent_notifications_user_at", "user_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=200)
    user_id: int = Field(foreign_key="users.id")
    kind: str = Field(max_length=20)  # new_message, reminder, digest
    conversation_id: int | None = Field(default=None)
    up_to_seq: int = Field(default=0)
    status: str = Field(default="sending", max_length=10)  # sending, sent, failed
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class NotificationPreference(SQLModel, table=True):
    """Email choices of one user (no row: both on). The portal shows everything regardless."""

    __tablename__ = "notification_preferences"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    email_on: bool = Field(default=True)
    digest_on: bool = Field(default=True)
    updated_at: datetime = Field(default_factory=utcnow)
