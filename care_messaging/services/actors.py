"""The acting user, resolved only from a server-side session."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from care_messaging.models import Patient, Provider, Role, User


@dataclass(frozen=True)
class Actor:
    user_id: int
    role: str
    display_name: str
    email: str
    patient_id: int | None = None
    provider_id: int | None = None
    session_id: int | None = None
    client_ip: str = ""
    # An admin requires two-step sign-in and the user has not set it up yet.
    must_enroll_totp: bool = False
    # A provider marked as clinic lead (the response-times page; shown in the navigation).
    # Services that gate on it read the providers row again (services/response_times.py).
    is_lead: bool = False
    # Code that needs the role compares ``actor.role`` with the ``Role`` enum (one way,
    # everywhere), never with a bare string.


def actor_for_user(
    session: Session, user: User, *, session_id: int | None = None, client_ip: str = ""
) -> Actor:
    """Build an Actor with the role-specific profile id looked up from the database."""
    patient_id = provider_id = None
    if user.role == Role.PATIENT:
        patient_id = session.exec(select(Patient.id).where(Patient.user_id == user.id)).first()
    elif user.role == Role.PROVIDER:
        provider_id = session.exec(select(Provider.id).where(Provider.user_id == user.id)).first()
    assert user.id is not None
    return Actor(
        user_id=user.id,
        role=user.role,
        display_name=user.display_name,
        email=user.email,
        patient_id=patient_id,
        provider_id=provider_id,
        session_id=session_id,
        client_ip=client_ip,
        must_enroll_totp=user.totp_required and not user.totp_enabled,
    )
