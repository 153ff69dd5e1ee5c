"""Disabling an account ends its sessions at once; admins only; 2FA can be required."""

from __future__ import annotations

import pytest

from care_messaging.pages.dashboard import DashboardState
from care_messaging.services import auth, users
from care_messaging.services.errors import NotFoundError, SessionInvalidError
from tests.factories import PASSWORD, actor_of, clinic, make_admin
from tests.state.helpers import call, make_state, redirect_path, sign_in_token


async def test_disabling_a_user_ends_every_session_immediately(session):
    people = clinic(session)
    admin = actor_of(session, make_admin(session))
    tokens = [sign_in_token(session, people["lee"].email, PASSWORD) for _ in range(2)]
    state = make_state(DashboardState, token=tokens[0], path="/dashboard")
    assert redirect_path(await call(state, "load")) is None
    assert users.set_active(session, actor=admin, user_id=people["lee"].user_id,
                            active=False) == 2
    session.commit()
    for token in tokens:
        with pytest.raises(SessionInvalidError):
            auth.resolve_session(session, token=token)
            session.commit()
    assert redirect_path(await call(state, "load")).startswith("/login")


def test_only_admins_manage_accounts(session):
    people = clinic(session)
    for who in ("lee", "maria"):
        with pytest.raises(NotFoundError):
            users.set_active(session, actor=people[who], user_id=people["patel"].user_id,
                             active=False)
            session.commit()
        with pytest.raises(NotFoundError):
            users.list_users(session, actor=people[who])
            session.commit()


def test_admin_can_require_two_step_sign_in_for_providers(session):
    people = clinic(session)
    admin = actor_of(session, make_admin(session))
    users.set_totp_required(session, actor=admin, user_id=people["lee"].user_id, required=True)
    session.commit()
    [row] = [u for u in users.list_users(session, actor=admin) if u.id == people["lee"].user_id]
    session.commit()
    assert row.totp_required is True


async def test_required_two_step_sign_in_comes_before_any_phi(session):
    import pyotp

    from care_messaging.pages.account import AccountState
    from care_messaging.services import users as user_service

    people = clinic(session)
    admin = actor_of(session, make_admin(session))
    user_service.set_totp_required(session, actor=admin, user_id=people["lee"].user_id,
                                   required=True)
    session.commit()
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    dashboard = make_state(DashboardState, token=token, path="/dashboard")
    assert redirect_path(await call(dashboard, "load")) == "/account?required=1"
    assert dashboard.conversations == []
    account = make_state(AccountState, token=token, path="/account")
    assert redirect_path(await call(account, "load")) is None and account.required
    await call(account, "start")
    assert account.enroll_secret and account.enroll_uri.startswith("otpauth://")
    await call(account, "confirm", {"code": "000000"})
    assert "did not match" in account.error and account.totp_on is False
    await call(account, "confirm", {"code": pyotp.TOTP(account.enroll_secret).now()})
    assert account.totp_on is True and account.enroll_secret == ""
    assert redirect_path(await call(dashboard, "load")) is None
    # Required: it cannot be switched off again by the user.
    await call(account, "turn_off", {"code": "123456"})
    assert account.totp_on is True
