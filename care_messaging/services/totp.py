"""Two-step sign-in (TOTP, RFC 6238) for providers: enrol, confirm, turn off.

The secret is stored only as AES-GCM ciphertext; it is enabled only after the user proves
their authenticator produces valid codes.
"""

from __future__ import annotations

import pyotp
from sqlmodel import Session

from care_messaging import crypto
from care_messaging.models import Role, User
from care_messaging.services import audit
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.auth import totp_required_for, totp_secret
from care_messaging.services.errors import ValidationError

ISSUER = "Care Messaging"


def _user(session: Session, actor: Actor) -> User:
    user = session.get(User, actor.user_id)
    if user is None or user.role not in (Role.PROVIDER, Role.ADMIN):
        raise ValidationError("Two-step sign-in is available to care team members and "
                              "administrators.")
    return user


def begin_enrollment(session: Session, *, actor: Actor) -> tuple[str, str]:
    """Store a fresh (not yet enabled) secret; returns (secret, otpauth URI) to show once."""
    user = _user(session, actor)
    if user.totp_enabled:
        raise ValidationError("Two-step sign-in is already on.")
    secret = pyotp.random_base32()
    user.totp_secret_ct, user.totp_key_id = crypto.encrypt_text(secret, aad=f"totp:{user.id}")
    session.add(user)
    session.commit()
    return secret, pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def confirm_enrollment(session: Session, *, actor: Actor, code: str) -> None:
    user = _user(session, actor)
    secret = totp_secret(user)
    if not secret or not pyotp.TOTP(secret).verify(str(code).strip(), valid_window=1):
        raise ValidationError("That code did not match. Check your authenticator app's clock "
                              "and try the newest code.")
    user.totp_enabled = True
    session.add(user)
    audit.record(session, actor=actor, action=Action.TOTP_CHANGE, outcome=Outcome.SUCCESS,
                 object_type="user", object_id=user.id or "", detail="enabled")
    session.commit()


def disable(session: Session, *, actor: Actor, code: str) -> None:
    """Turn two-step sign-in off (needs a current code; refused when an admin requires it)."""
    user = _user(session, actor)
    if totp_required_for(user.role, user.totp_required):
        raise ValidationError("Two-step sign-in is required for your account.")
    secret = totp_secret(user)
    if not secret or not pyotp.TOTP(secret).verify(str(code).strip(), valid_window=1):
        raise ValidationError("That code did not match.")
    user.totp_enabled = False
    user.totp_secret_ct = None
    user.totp_key_id = ""
    session.add(user)
    audit.record(session, actor=actor, action=Action.TOTP_CHANGE, outcome=Outcome.SUCCESS,
                 object_type="user", object_id=user.id or "", detail="disabled")
    session.commit()
