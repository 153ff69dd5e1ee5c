"""The enums the tables and the services share, and the clock every timestamp uses."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum


def utcnow() -> datetime:
    """Aware UTC now: every timestamp in the database is UTC."""
    return datetime.now(UTC)


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
