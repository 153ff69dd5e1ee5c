"""Clinic-wide settings and the care team's quick replies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from care_messaging.models.common import (
    utcnow,
)


class QuickReply(SQLModel, table=True):
    """A reusable reply text with placeholders (services/quick_replies.py). ``owner_user_id``
    None: clinic-wide (the admin's); otherwise one provider's own. Templates hold no PHI:
    the patient's name is filled in only when one is inserted into a reply."""

    __tablename__ = "quick_replies"
    __table_args__ = (Index("ix_quick_replies_owner", "owner_user_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_user_id: int | None = Field(default=None, foreign_key="users.id")
    name: str = Field(max_length=40)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ClinicSetting(SQLModel, table=True):
    """Clinic-wide settings the admin edits (reply-by targets, working hours, time zone);
    a key without a row has its default (services/reply_by.py)."""

    __tablename__ = "clinic_settings"

    key: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=200)
    updated_at: datetime = Field(default_factory=utcnow)
