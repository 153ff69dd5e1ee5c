"""Sign-in, hashing, throttling and server-side sessions."""

from __future__ import annotations

import re
from datetime import timedelta

import bcrypt
import pytest
from sqlmodel import select

from care_messaging.models import AuditEvent, AuthSession, User
from care_messaging.services import auth
from care_messaging.services.errors import AuthenticationError, SessionInvalidError
from care_messaging.services.passwords import hash_password, verify_and_update
from care_messaging.settings import get_settings
from tests.factories import PASSWORD, make_provider, make_user


def _sign_in(session, email, password=PASSWORD) -> str:
    result = auth.login(session, email=email, password=password, client_ip="10.0.0.1")
    token, _role = auth.exchange_handoff(session, ticket=result.ticket)
    return token


def test_hash_is_argon2id_with_asvs_parameters():
    stored = hash_password("a fine passphrase")
    assert stored.startswith("$argon2id$")
    params = dict(p.split("=") for p in re.search(r"\$m=[^$]+", stored).group(0)[1:].split(","))
    assert int(params["m"]) >= 19456
    assert int(params["t"]) >= 2


def test_legacy_bcrypt_hash_is_upgraded_on_login(session):
    user = make_user(session, role="provider", name="Dr. Legacy")
    user.password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    session.add(user)
    session.commit()
    _sign_in(session, user.email)
    session.refresh(user)
    assert user.password_hash.startswith("$argon2id$")


def test_hundred_byte_password_verifies_with_both_schemes():
    password = "p" * 100
    assert verify_and_update(password, hash_password(password))[0]
    legacy = bcrypt.hashpw(password[:72].encode(), bcrypt.gensalt(rounds=4)).decode()
    ok, new_hash = verify_and_update(password, legacy)
    assert ok and new_hash.startswith("$argon2id$")


def test_wrong_password_and_unknown_user_get_the_same_error(session):
    user = make_user(session, role="patient", name="Pat")
    session.commit()
    with pytest.raises(AuthenticationError) as wrong:
        auth.login(session, email=user.email, password="nope")
    with pytest.raises(AuthenticationError) as unknown:
        auth.login(session, email="nobody@test.care", password="nope")
    assert str(wrong.value) == str(unknown.value) == auth.GENERIC_LOGIN_ERROR


def test_throttling_after_repeated_failures_even_with_right_password(session):
    user = make_user(session, role="patient", name="Pat")
    session.commit()
    for _ in range(get_settings().login_max_failures):
        with pytest.raises(AuthenticationError):
            auth.login(session, email=user.email, password="wrong")
    with pytest.raises(AuthenticationError) as locked:
        auth.login(session, email=user.email, password=PASSWORD)
    assert str(locked.value) == auth.LOCKED_ERROR
    # Unknown accounts are throttled the same way, so the lock does not reveal existence.
    for _ in range(get_settings().login_max_failures):
        with pytest.raises(AuthenticationError):
            auth.login(session, email="ghost@test.care", password="wrong")
    with pytest.raises(AuthenticationError) as ghost:
        auth.login(session, email="ghost@test.care", password="wrong")
    assert str(ghost.value) == auth.LOCKED_ERROR


def test_fresh_token_at_every_login_and_only_hash_stored(session):
    user = make_user(session, role="patient", name="Pat")
    session.commit()
    first = _sign_in(session, user.email)
    second = _sign_in(session, user.email)
    assert first != second
    hashes = session.exec(select(AuthSession.token_hash)).all()
    assert first not in hashes and auth.hash_token(first) in hashes


def test_handoff_ticket_is_single_use(session):
    user = make_user(session, role="patient", name="Pat")
    session.commit()
    result = auth.login(session, email=user.email, password=PASSWORD)
    auth.exchange_handoff(session, ticket=result.ticket)
    with pytest.raises(SessionInvalidError):
        auth.exchange_handoff(session, ticket=result.ticket)


def test_logout_revokes_on_the_server(session):
    user = make_user(session, role="patient", name="Pat")
    session.commit()
    token = _sign_in(session, user.email)
    assert auth.resolve_session(session, token=token).user_id == user.id
    auth.logout(session, token=token)
    with pytest.raises(SessionInvalidError):
        auth.resolve_session(session, token=token)


def test_idle_timeout_and_absolute_lifetime(session):
    user = make_user(session, role="patient", name="Pat")
    session.commit()
    idle_token = _sign_in(session, user.email)
    row = session.exec(select(AuthSession).where(AuthSession.token_hash == auth.hash_token(idle_token))).one()
    row.last_seen_at -= timedelta(seconds=get_settings().idle_timeout_seconds + 1)
    session.add(row)
    session.commit()
    with pytest.raises(SessionInvalidError):
        auth.resolve_session(session, token=idle_token)
    timeouts = session.exec(select(AuthEvent := AuditEvent).where(AuthEvent.action == "session_timeout")).all()
    assert len(timeouts) == 1 and timeouts[0].detail == "idle"

    abs_token = _sign_in(session, user.email)
    row = session.exec(select(AuthSession).where(AuthSession.token_hash == auth.hash_token(abs_token))).one()
    row.expires_at = row.created_at  # absolute lifetime already over, though recently active
    session.add(row)
    session.commit()
    with pytest.raises(SessionInvalidError):
        auth.resolve_session(session, token=abs_token)


def test_disabled_user_cannot_sign_in_or_use_a_session(session):
    user_row, _ = make_provider(session, "Dr. Gone")
    token = _sign_in(session, user_row.email)
    user = session.get(User, user_row.id)
    user.is_active = False
    session.add(user)
    session.commit()
    with pytest.raises(SessionInvalidError):
        auth.resolve_session(session, token=token)
    with pytest.raises(AuthenticationError):
        auth.login(session, email=user.email, password=PASSWORD)


def test_every_login_attempt_is_audited(session):
    user = make_user(session, role="patient", name="Pat")
    session.commit()
    _sign_in(session, user.email)
    with pytest.raises(AuthenticationError):
        auth.login(session, email=user.email, password="bad")
    rows = session.exec(select(AuditEvent).where(AuditEvent.action == "login")).all()
    assert [r.outcome for r in rows] == ["success", "failure"]
    assert all(PASSWORD not in r.detail and r.detail != "bad" for r in rows)


def test_activity_moves_the_idle_clock_at_most_every_touch_interval(session):
    """Every event resolves the session, but only one write per TOUCH_INTERVAL moves the idle
    clock (a write per event would serialise all tabs on the database's write lock)."""
    user = make_user(session, role="patient", name="Pat")
    session.commit()
    token = _sign_in(session, user.email)
    row = session.exec(select(AuthSession).where(
        AuthSession.token_hash == auth.hash_token(token))).one()
    first_seen = row.last_seen_at
    auth.resolve_session(session, token=token)
    session.refresh(row)
    assert row.last_seen_at == first_seen  # a second later: no write
    row.last_seen_at = first_seen - auth.TOUCH_INTERVAL
    session.add(row)
    session.commit()
    auth.resolve_session(session, token=token)
    session.refresh(row)
    assert row.last_seen_at > first_seen  # older than the interval: moved to now
    auth.resolve_session(session, token=token, touch=False)
