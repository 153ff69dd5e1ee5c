"""Sign-in, server-side sessions, throttling and logout.

Flow: ``login`` checks the password (and TOTP when on) and creates a session row holding only a
one-time hand-off ticket. The browser is redirected to ``/api/auth/complete?ticket=...``, whose
route calls ``exchange_handoff``: that mints the real session token (fresh at every login),
stores its SHA-256 and sets it as an HttpOnly cookie, so the token never sits in Reflex state.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from care_messaging import crypto, unit_of_work
from care_messaging.models import (
    AuthSession,
    Patient,
    Provider,
    Role,
    User,
    id_of,
    table_of,
    utcnow,
)
from care_messaging.navigation import LANDING
from care_messaging.services import audit, throttle
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import (
    AuthenticationError,
    SecondStepPendingError,
    SessionEndedError,
    SessionInvalidError,
)
from care_messaging.services.hot_sql import HotStatement
from care_messaging.services.passwords import burn_verification_time, verify_and_update
from care_messaging.services.totp_codes import accept_code
from care_messaging.settings import get_settings

GENERIC_LOGIN_ERROR = "Incorrect email or password."
LOCKED_ERROR = "Too many failed sign-in attempts. Try again in a few minutes."
HANDOFF_SECONDS = 60
SESSION_COOKIE = "care_session"

_NEXT_PATTERN = re.compile(r"^/(dashboard|portal)(\?c=[0-9]{1,10})?$")


def safe_next(value: object, role: str) -> str | None:
    """Where to go after sign-in when a link asked for it (an email's "sign in to read it"):
    only a conversation on the user's own page, never another site or another role's page."""
    text = str(value or "")
    match = _NEXT_PATTERN.match(text)
    if match is None or f"/{match.group(1)}" != LANDING.get(role):
        return None
    return text


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class LoginResult:
    """Either a hand-off ticket (signed in) or a request for the TOTP code."""

    ticket: str = ""
    role: str = ""
    needs_totp: bool = False


def totp_required_for(role: str, required_flag: bool) -> bool:
    """Whether an account must use two-step sign-in: when an administrator required it, and
    for every administrator where the setting asks for it (the default outside development)."""
    return required_flag or (role == Role.ADMIN and get_settings().admin_totp_required)


def totp_secret(user: User) -> str | None:
    if not user.totp_secret_ct:
        return None
    return crypto.decrypt_text(user.totp_secret_ct, aad=crypto.totp_aad(user.id), key_id=user.totp_key_id)


def login(
    session: Session,
    *,
    email: str,
    password: str,
    totp_code: str = "",
    client_ip: str = "",
) -> LoginResult:
    """Check credentials and open a session. Raises AuthenticationError with a generic text.

    Nothing is written before the password hash is checked: on SQLite a pending INSERT would
    hold the database's one write lock for the whole hash (tens of ms), and every message send
    would wait behind it. Reads first, the hash, then the writes in one short transaction.
    """
    key = normalise_email(email)
    now = utcnow()
    counter = throttle.peek(session, key)
    user = session.exec(select(User).where(User.email == key)).first()

    def fail(detail: str, message: str = GENERIC_LOGIN_ERROR) -> AuthenticationError:
        throttle.register_failure(counter or throttle.throttle_row(session, key, now), now)
        throttle.maybe_prune(session, now, keep=key)
        audit.record(
            session,
            action=Action.LOGIN,
            outcome=Outcome.FAILURE,
            actor_user_id=user.id if user else None,
            actor_label=key[:254],
            object_type="user",
            client_ip=client_ip,
            detail=detail,
        )
        unit_of_work.keep_on_error(session)  # the failure stays counted and recorded
        return AuthenticationError(message)

    if counter is not None and throttle.is_locked(counter, now):
        # No hash: the answer itself says "locked", so spending a verification's time hides
        # nothing, and a storm against locked accounts would cost a hash per attempt.
        raise fail("locked", LOCKED_ERROR)
    if user is None or not user.is_active:
        burn_verification_time(password)
        raise fail("unknown or disabled account")
    ok, new_hash = verify_and_update(password, user.password_hash)
    if not ok:
        raise fail("bad password")
    if user.totp_enabled:
        if not totp_code.strip():
            return LoginResult(needs_totp=True)
        if not accept_code(user, totp_secret(user), totp_code, now):
            raise fail("bad totp code", "Incorrect email, password or verification code.")
    if new_hash:
        user.password_hash = new_hash
        session.add(user)
    if counter is not None:
        throttle.clear(counter)
    ticket = secrets.token_urlsafe(32)
    settings = get_settings()
    auth_session = AuthSession(
        token_hash=hash_token(secrets.token_urlsafe(32)),
        user_id=id_of(user),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=settings.absolute_session_seconds),
        client_ip=client_ip[:64],
        handoff_hash=hash_token(ticket),
        handoff_expires_at=now + timedelta(seconds=HANDOFF_SECONDS),
    )
    session.add(auth_session)
    session.flush()
    audit.record(
        session,
        action=Action.LOGIN,
        outcome=Outcome.SUCCESS,
        actor_user_id=user.id,
        actor_label=user.email,
        object_type="session",
        object_id=auth_session.id or "",
        client_ip=client_ip,
    )
    return LoginResult(ticket=ticket, role=user.role)


def exchange_handoff(session: Session, *, ticket: str) -> tuple[str, str]:
    """Swap a one-time ticket for a fresh session token; returns (token, role)."""
    now = utcnow()
    row = session.exec(
        select(AuthSession).where(AuthSession.handoff_hash == hash_token(ticket))
    ).first()
    if row is None or row.revoked_at is not None or not row.handoff_expires_at:
        raise SessionInvalidError("Sign-in link is no longer valid.")
    if row.handoff_expires_at < now:
        raise SessionInvalidError("Sign-in link is no longer valid.")
    token = secrets.token_urlsafe(32)
    row.token_hash = hash_token(token)
    row.handoff_hash = None
    row.handoff_expires_at = None
    row.last_seen_at = now
    session.add(row)
    user = session.get(User, row.user_id)
    return token, user.role if user else ""


def _session_by_token(session: Session, token: str) -> AuthSession | None:
    return session.exec(
        select(AuthSession).where(AuthSession.token_hash == hash_token(token))
    ).first()


# Built once, columns only (no ORM objects), on the DBAPI cursor (services/hot_sql.py): it
# runs for every event a tab sends.
_SESSION_WITH_USER = HotStatement(
    # SQLAlchemy's select: SQLModel's is typed for at most four columns.
    sa_select(col(AuthSession.id), col(AuthSession.revoked_at), col(AuthSession.handoff_hash),
              col(AuthSession.expires_at), col(AuthSession.last_seen_at),
              col(User.id).label("user_id"), col(User.role), col(User.display_name),
              col(User.email), col(User.is_active), col(User.totp_required),
              col(User.totp_enabled), col(Patient.id).label("patient_id"),
              col(Provider.id).label("provider_id"), col(Provider.is_lead))
    .join(User, col(User.id) == AuthSession.user_id)
    .outerjoin(Patient, col(Patient.user_id) == User.id)
    .outerjoin(Provider, col(Provider.user_id) == User.id)
    .where(col(AuthSession.token_hash) == bindparam("token_hash"))
)


def _session_with_user(session: Session, token: str) -> Any:
    """The session with its user and the user's patient/provider id, in one query."""
    return _SESSION_WITH_USER.execute(session, {"token_hash": hash_token(token)}).first()


TOUCH_INTERVAL = timedelta(seconds=30)


def resolve_session(
    session: Session,
    *,
    token: str | None,
    client_ip: str = "",
    touch: bool = True,
    second_step_pending_ok: bool = False,
) -> Actor:
    """Return the Actor for a session token, enforcing idle and absolute limits.

    An idle-expired session is revoked (and audited) the first time it is seen. A session that
    still owes its second step (two-step sign-in required but not set up) raises
    SecondStepPendingError unless ``second_step_pending_ok`` (the enrolment page and the session
    timer only): this is the one place every PHI route, handler and live push is refused it.
    """
    if not token:
        raise SessionInvalidError("Please sign in.")
    found = _session_with_user(session, token)
    now = utcnow()
    refusal = _refusal(found, now)
    if refusal == _UNKNOWN:
        raise SessionInvalidError("Please sign in.")
    if refusal == _REVOKED:
        raise SessionEndedError("Please sign in.", reason=_revoked_reason(session, found.id))
    if refusal in _TIMED_OUT:
        reason = refusal
        row = session.get(AuthSession, found.id)
        if row is None:  # deleted since the read above (its account was removed)
            raise SessionInvalidError("Please sign in.")
        _revoke(session, row, reason=reason,
                action=Action.TIMEOUT, client_ip=client_ip, at=now)
        unit_of_work.keep_on_error(session)  # the session stays revoked, the timeout recorded
        raise SessionEndedError("Your session has expired. Please sign in again.",
                                reason=reason)
    if refusal == _DISABLED:
        raise SessionEndedError("Please sign in.", reason=_DISABLED)
    if _touch_due(found, now, touch):
        session.execute(_TOUCH, {"b_id": found.id, "b_now": now})
    return _actor_of(found, client_ip, second_step_pending_ok)


_UNKNOWN, _REVOKED, _DISABLED = "unknown", "revoked", "disabled"
_TIMED_OUT = ("absolute", "idle")


def _refusal(found: Any, now: datetime) -> str:
    """Why a session row (``_SESSION_WITH_USER``) is no valid session now, "" when it is:
    unknown (no row, or a sign-in handoff not yet exchanged), revoked, timed out ("absolute"
    past its lifetime, "idle" past the idle limit) or its account disabled, in that order."""
    if found is None or found.handoff_hash is not None:
        return _UNKNOWN
    if found.revoked_at is not None:
        return _REVOKED
    if now >= found.expires_at:
        return "absolute"
    if now >= found.last_seen_at + timedelta(seconds=get_settings().idle_timeout_seconds):
        return "idle"
    return "" if found.is_active else _DISABLED


def _touch_due(found: Any, now: datetime, touch: bool) -> bool:
    # Activity moves the idle clock, at most every TOUCH_INTERVAL: one write per half minute
    # instead of one per event (the idle limit is minutes, so the precision is enough).
    return touch and now - found.last_seen_at >= TOUCH_INTERVAL


def _actor_of(found: Any, client_ip: str, second_step_pending_ok: bool) -> Actor:
    """The Actor of a valid session's row (raises while a required second step is owed)."""
    actor = Actor(
        user_id=found.user_id,
        role=found.role,
        display_name=found.display_name,
        email=found.email,
        patient_id=found.patient_id if found.role == Role.PATIENT else None,
        provider_id=found.provider_id if found.role == Role.PROVIDER else None,
        session_id=found.id,
        client_ip=client_ip,
        must_enroll_totp=totp_required_for(found.role, found.totp_required)
        and not found.totp_enabled,
        is_lead=bool(found.is_lead) if found.role == Role.PROVIDER else False,
    )
    if actor.must_enroll_totp and not second_step_pending_ok:
        raise SecondStepPendingError("Set up two-step sign-in to continue.")
    return actor


async def resolve_session_on_loop(*, token: str | None, client_ip: str = "", touch: bool = True,
                                  second_step_pending_ok: bool = False) -> Actor | None:
    """``resolve_session`` for the usual case, awaited on the event loop (PostgreSQL:
    db_on_loop): the Actor when the session is valid and nothing needs writing, None when
    ``resolve_session`` must decide (no or unknown token, ended or revoked, an activity touch
    due: it raises or writes). The same rules: the row, ``_refusal``, ``_touch_due`` and
    ``_actor_of`` are resolve_session's own."""
    from care_messaging import db_on_loop

    if not token:
        return None
    found = await db_on_loop.first(_SESSION_WITH_USER, {"token_hash": hash_token(token)})
    now = utcnow()
    if _refusal(found, now) or _touch_due(found, now, touch):
        return None
    return _actor_of(found, client_ip, second_step_pending_ok)


def _revoked_reason(session: Session, session_id: int) -> str:
    """Why a revoked session ended ("idle", "absolute", "logout", "disabled", ...); only read
    on the rare path of a revoked token, so it stays out of the hot statement."""
    row = session.get(AuthSession, session_id)
    return (row.revoked_reason if row is not None else "") or "revoked"


_TOUCH = (update(table_of(AuthSession))
          .where(table_of(AuthSession).c.id == bindparam("b_id"))
          .values(last_seen_at=bindparam("b_now")))


def session_seconds_left(session: Session, *, token: str | None) -> int:
    """Seconds before the idle timeout ends this session (0 when it is not valid); no touch."""
    if not token:
        return 0
    row = _session_by_token(session, token)
    if row is None or row.revoked_at is not None:
        return 0
    settings = get_settings()
    now = utcnow()
    idle_end = row.last_seen_at + timedelta(seconds=settings.idle_timeout_seconds)
    return max(0, int((min(idle_end, row.expires_at) - now).total_seconds()))


def logout(session: Session, *, token: str | None, client_ip: str = "") -> None:
    """Revoke the session on the server. Unknown tokens are ignored."""
    if not token:
        return
    row = _session_by_token(session, token)
    if row is None or row.revoked_at is not None:
        return
    _revoke(session, row, reason="logout", action=Action.LOGOUT, client_ip=client_ip,
            at=utcnow())


def _revoke(session: Session, row: AuthSession, *, reason: str, action: str, client_ip: str,
            at: datetime) -> None:
    """End one session on the server and audit why (a timeout says which limit ended it)."""
    row.revoked_at = at
    row.revoked_reason = reason
    session.add(row)
    audit.record(session, action=action, outcome=Outcome.SUCCESS, actor_user_id=row.user_id,
                 object_type="session", object_id=row.id or "", client_ip=client_ip,
                 detail="" if reason == "logout" else reason)


def revoke_user_sessions(session: Session, *, user_id: int, reason: str) -> int:
    """End every live session of a user at once (used when an account is disabled)."""
    rows = session.exec(
        select(AuthSession).where(AuthSession.user_id == user_id,
                                  col(AuthSession.revoked_at).is_(None))
    ).all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        row.revoked_reason = reason
        session.add(row)
    return len(rows)
