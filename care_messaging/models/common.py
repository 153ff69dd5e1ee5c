"""The enums the tables and the services share, and the clock every timestamp uses."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import Table
from sqlmodel import SQLModel


def utcnow() -> datetime:
    """Aware UTC now: every timestamp in the database is UTC."""
    return datetime.now(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """The Core ``Table`` of a table model, for statements built on columns (``.c``)."""
    # SQLModel sets ``__table__`` when the class is created but does not declare it.
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


class _Row(Protocol):
    id: int | None


def id_of(row: _Row) -> int:
    """The primary key of a row read from or flushed to the database (always set there: the
    models type it ``int | None`` only because a new, unflushed row has none yet)."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id yet: flush it first")
    return row.id


class Role(StrEnum):
    PATIENT = "patient"
    PROVIDER = "provider"
    ADMIN = "admin"


class ConversationStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_ATTENTION = "needs_attention"
    COMPLETED = "completed"


class Priority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    HIGH = "high"


class Category(StrEnum):
    TEST_RESULTS = "test_results"
    APPOINTMENT = "appointment"
    MEDICATION = "medication"
    CARE_INSTRUCTIONS = "care_instructions"
    HEALTH_EDUCATION = "health_education"
    CHECK_IN = "check_in"
    ADMINISTRATIVE = "administrative"


class Medium(StrEnum):
    SECURE_MESSAGE = "secure_message"
    PORTAL = "portal"
    PHONE = "phone"
    EMAIL = "email"


class MessageRevisionKind(StrEnum):
    RETRACT = "retract"
    CORRECT = "correct"
