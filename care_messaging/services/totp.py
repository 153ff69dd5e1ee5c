"""Two-step sign-in (TOTP, RFC 6238) for providers: enrol, confirm, turn off.

The secret is stored only as AES-GCM ciphertext; it is enabled only after the user proves
their authenticator produces valid codes. Turning it off takes a current code, and that code
is guarded like a password: each wrong one is audited and counts toward the account's sign-in
throttle (so guessing locks both the form and sign-in), a locked account is refused without
checking, and a code already accepted once (at sign-in or here) is refused.
"""

from __future__ import annotations

import pyotp
from sqlmodel import Session

from care_messaging import crypto, unit_of_work
from care_messaging.models import Role, User, utcnow
from care_messaging.services import audit, throttle
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.auth import (
    LOCKED_ERROR,
    normalise_email,
    totp_required_for,
    totp_secret,
)
from care_messaging.services.errors import ValidationError
from care_messaging.services.totp_codes import accept_code

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
    user.totp_secret_ct, user.totp_key_id = crypto.encrypt_text(secret, aad=crypto.totp_aad(user.id))
    session.add(user)
    return secret, pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def confirm_enrollment(session: Session, *, actor: Actor, code: str) -> None:
    user = _user(session, actor)
    if not accept_code(user, totp_secret(user), code):
        raise ValidationError("That code did not match. Check your authenticator app's clock "
                              "and try the newest code.")
    user.totp_enabled = True
    session.add(user)
    audit.record(session, actor=actor, action=Action.TOTP_CHANGE, outcome=Outcome.SUCCESS,
                 object_type="user", object_id=user.id or "", detail="enabled")


def disable(session: Session, *, actor: Actor, code: str) -> None:
    """Turn two-step sign-in off (needs a current code; refused when an admin requires it)."""
    user = _user(session, actor)
    if totp_required_for(user.role, user.totp_required):
        raise ValidationError("Two-step sign-in is required for your account.")
    now = utcnow()
    counter = throttle.throttle_row(session, normalise_email(user.email), now)
    if throttle.is_locked(counter, now):
        _refuse(session, actor, user, "locked")
        raise ValidationError(LOCKED_ERROR)
    if not accept_code(user, totp_secret(user), code, now):
        throttle.register_failure(counter, now)
        _refuse(session, actor, user, "bad code to turn off")
        raise ValidationError("That code did not match.")
    throttle.clear(counter)
    user.totp_enabled = False
    user.totp_secret_ct = None
    user.totp_key_id = ""
    user.totp_last_step = None
    session.add(user)
    audit.record(session, actor=actor, action=Action.TOTP_CHANGE, outcome=Outcome.SUCCESS,
                 object_type="user", object_id=user.id or "", detail="disabled")


def _refuse(session: Session, actor: Actor, user: User, detail: str) -> None:
    """Audit a refused code. The caller raises next, and the failure must stay counted (the
    throttle row) and recorded: the unit keeps its work although it fails."""
    audit.record(session, actor=actor, action=Action.TOTP_CHANGE, outcome=Outcome.FAILURE,
                 object_type="user", object_id=user.id or "", detail=detail)
    unit_of_work.keep_on_error(session)
