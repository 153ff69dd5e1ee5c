"""Who uses the app: accounts, patients, providers and the care teams that join them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from care_messaging.models.common import (
    Medium,
    utcnow,
)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=254)
    display_name: str = Field(max_length=120)
    role: str = Field(max_length=16, index=True)
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    totp_secret_ct: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    totp_key_id: str = Field(default="", max_length=32)
    totp_enabled: bool = Field(default=False)
    totp_required: bool = Field(default=False)
    # Time step of the last TOTP code accepted: a code is never accepted twice (replay).
    totp_last_step: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Patient(SQLModel, table=True):
    __tablename__ = "patients"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", unique=True)
    mrn: str = Field(unique=True, index=True, max_length=20)
    first_name: str = Field(max_length=80)
    last_name: str = Field(max_length=80, index=True)
    date_of_birth: date | None = None
    phone: str = Field(default="", max_length=40)
    preferred_medium: str = Field(default=Medium.SECURE_MESSAGE, max_length=20)

    @property
    def full_name(self) -> str:
        return patient_name(self.first_name, self.last_name)


def patient_name(first_name: str, last_name: str) -> str:
    """How a patient is named everywhere (also for list rows read as plain columns)."""
    return f"{first_name} {last_name}"


class Provider(SQLModel, table=True):
    __tablename__ = "providers"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", unique=True)
    title: str = Field(default="", max_length=20)
    specialty: str = Field(default="", max_length=80)
    # A clinic lead sees the response-times page (aggregates only; migration 0009).
    is_lead: bool = Field(default=False)


class CareTeamMember(SQLModel, table=True):
    """Which providers may see which patient: the single source of PHI visibility."""

    __tablename__ = "care_team_members"
    __table_args__ = (
        UniqueConstraint("patient_id", "provider_id", name="uq_care_team_member"),
        Index("ix_care_team_provider_patient", "provider_id", "patient_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patients.id")
    provider_id: int = Field(foreign_key="providers.id")
    added_at: datetime = Field(default_factory=utcnow)
