"""Account administration: disabling a user ends their sessions at once; requiring 2FA;
marking a provider as clinic lead (the response-times page)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case
from sqlmodel import Session, col, select

from care_messaging.models import Provider, Role, User
from care_messaging.services import audit
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.auth import revoke_user_sessions
from care_messaging.services.errors import NotFoundError, ValidationError


@dataclass(frozen=True)
class UserRow:
    """An account as the administrator sees it. A patient's account carries no name and no
    email (the admin sees no PHI): it is known by its ``label``, an account number."""

    id: int
    email: str
    name: str
    role: str
    active: bool
    totp_enabled: bool
    totp_required: bool
    label: str = ""
    lead: bool = False  # a provider marked as clinic lead


def account_label(user_id: int, role: str, email: str) -> str:
    """How an account is named to an administrator: staff by email, a patient by number."""
    return f"Patient account #{user_id}" if role == Role.PATIENT else email


def account_labels(session: Session, *, actor: Actor, user_ids: list[int]) -> dict[int, str]:
    """Labels for the accounts behind audit rows (patients' emails never reach the admin)."""
    if actor.role != Role.ADMIN:
        raise NotFoundError("Not found.")
    ids = sorted({i for i in user_ids if i})
    if not ids:
        return {}
    rows = session.exec(select(User.id, User.role, User.email)
                        .where(col(User.id).in_(ids))).all()
    # ``uid`` is a selected primary key: never NULL.
    return {uid: account_label(uid, role, email) for uid, role, email in rows
            if uid is not None}


def _admin_target(session: Session, actor: Actor, user_id: int) -> User:
    if actor.role != Role.ADMIN:
        raise NotFoundError("User not found.")
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise NotFoundError("User not found.")
    return user


def list_users(session: Session, *, actor: Actor, search: str = "", limit: int = 50) -> list[UserRow]:
    if actor.role != Role.ADMIN:
        raise NotFoundError("Not found.")
    # Staff first, so a clinic of many patients never pushes the accounts an administrator
    # manages (providers, admins) off the page.
    patients_last = case((col(User.role) == Role.PATIENT, 1), else_=0)
    query = select(User).order_by(patients_last, col(User.role), col(User.email)).limit(limit)
    if search.strip():
        query = query.where(col(User.email).contains(search.strip().lower()))
    found = session.exec(query).all()
    leads = set(session.exec(select(Provider.user_id).where(
        col(Provider.is_lead), col(Provider.user_id).in_([u.id for u in found]))).all())
    return [_row(u, lead=u.id in leads) for u in found]


def _row(u: User, *, lead: bool = False) -> UserRow:
    uid = u.id or 0
    label = account_label(uid, u.role, u.email)
    if u.role == Role.PATIENT:
        return UserRow(uid, "", "", u.role, u.is_active, u.totp_enabled, u.totp_required, label)
    return UserRow(uid, u.email, u.display_name, u.role, u.is_active, u.totp_enabled,
                   u.totp_required, label, lead)


def set_active(session: Session, *, actor: Actor, user_id: int, active: bool) -> int:
    """Enable or disable an account; disabling revokes every live session immediately."""
    user = _admin_target(session, actor, user_id)
    if user.id == actor.user_id and not active:
        raise ValidationError("You cannot disable your own account.")
    user.is_active = active
    session.add(user)
    ended = 0 if active else revoke_user_sessions(session, user_id=user.id or 0, reason="disabled")
    audit.record(session, actor=actor, action=Action.USER_DISABLE, outcome=Outcome.SUCCESS,
                 object_type="user", object_id=user.id or "",
                 detail=("enabled" if active else f"disabled; {ended} sessions ended"))
    return ended


def set_totp_required(session: Session, *, actor: Actor, user_id: int, required: bool) -> None:
    user = _admin_target(session, actor, user_id)
    if user.role != Role.PROVIDER:
        raise ValidationError("Two-step sign-in can be required for care team members.")
    user.totp_required = required
    session.add(user)
    audit.record(session, actor=actor, action=Action.TOTP_CHANGE, outcome=Outcome.SUCCESS,
                 object_type="user", object_id=user.id or "",
                 detail="required" if required else "not required")


def set_clinic_lead(session: Session, *, actor: Actor, user_id: int, lead: bool) -> None:
    """Mark or unmark a provider as clinic lead (admin only; anyone else: "User not found.").

    A lead reads the response-times page (aggregates only). Patients and admins cannot be
    leads: the refusal is audited as rejected, like the change itself as a success. The
    lead's open tabs show or drop the navigation link on their next event (the flag rides
    with the session check, services/auth.py)."""
    user = _admin_target(session, actor, user_id)
    provider = session.exec(select(Provider).where(Provider.user_id == user.id)).first()
    if user.role != Role.PROVIDER or provider is None:
        audit.record_apart(session, actor=actor, action=Action.CLINIC_LEAD_CHANGE,
                           outcome=Outcome.REJECTED, object_type="user",
                           object_id=user.id or "", detail="not a provider")
        raise ValidationError("Only care team members can be clinic leads.")
    provider.is_lead = bool(lead)
    session.add(provider)
    audit.record(session, actor=actor, action=Action.CLINIC_LEAD_CHANGE,
                 outcome=Outcome.SUCCESS, object_type="user", object_id=user.id or "",
                 detail="lead" if lead else "not lead")
