"""Administrators use two-step sign-in (required by default outside development), and the
admin page shows patients only as account numbers (issue 16, item 7)."""

from __future__ import annotations

import pyotp
import pytest

from care_messaging.pages.account import AccountState
from care_messaging.pages.admin import AdminState
from care_messaging.services import auth, users
from care_messaging.settings import get_settings, load_settings
from tests.factories import PASSWORD, actor_of, clinic, make_admin
from tests.state.helpers import call, make_state, redirect_path, sign_in_token


@pytest.fixture
def require_admin_totp(monkeypatch):
    monkeypatch.setenv("CARE_ADMIN_TOTP_REQUIRED", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_admin_two_step_is_required_by_default_outside_development(monkeypatch):
    for env, expected in (("production", True), ("staging", True), ("dev", False),
                          ("test", False)):
        monkeypatch.setenv("CARE_ENV", env)
        monkeypatch.delenv("CARE_ADMIN_TOTP_REQUIRED", raising=False)
        assert load_settings().admin_totp_required is expected, env
    monkeypatch.setenv("CARE_ADMIN_TOTP_REQUIRED", "0")
    monkeypatch.setenv("CARE_ENV", "production")
    assert load_settings().admin_totp_required is False


async def test_an_admin_enrols_before_the_admin_page_and_then_signs_in_with_a_code(
        session, require_admin_totp):
    admin_user = make_admin(session)
    clinic(session)
    token = sign_in_token(session, admin_user.email, PASSWORD)
    admin_page = make_state(AdminState, token=token, path="/admin")
    assert redirect_path(await call(admin_page, "load")) == "/account?required=1"
    assert admin_page.rows == [] and admin_page.people == []
    account = make_state(AccountState, token=token, path="/account")
    assert redirect_path(await call(account, "load")) is None
    assert account.required and account.home == "/admin"
    await call(account, "start")
    assert account.error == "" and account.enroll_secret
    secret = account.enroll_secret
    await call(account, "confirm", {"code": pyotp.TOTP(secret).now()})
    assert account.totp_on is True
    assert redirect_path(await call(admin_page, "load")) is None and admin_page.people
    # Required: the admin cannot turn it off again, even with a right code.
    await call(account, "turn_off", {"code": pyotp.TOTP(secret).now()})
    assert account.totp_on is True and "required" in account.error
    # The next sign-in asks for the code.
    session.expire_all()
    assert auth.login(session, email=admin_user.email, password=PASSWORD).needs_totp


async def test_admin_page_shows_patients_only_as_account_numbers(session):
    people = clinic(session)
    admin = make_admin(session)
    # A failed sign-in by a patient and a message view put patients' accounts in the audit log.
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do
        auth.login(session, email=people["maria"].email, password="wrong password")
        session.commit()
    token = sign_in_token(session, admin.email, PASSWORD)
    state = make_state(AdminState, token=token, path="/admin")
    assert redirect_path(await call(state, "load")) is None
    shown = repr(state.people) + repr(state.rows)
    for patient in ("maria", "james"):
        assert people[patient].email not in shown
    assert "Maria" not in shown and "Garcia" not in shown and "James" not in shown
    maria_id = str(people["maria"].user_id)
    [maria_row] = [p for p in state.people if p["id"] == maria_id]
    assert maria_row["label"] == f"Patient account #{maria_id}" and maria_row["role"] == "patient"
    assert any(r["actor"] == f"Patient account #{maria_id}" for r in state.rows)
    # Providers and admins are still named, and come first.
    labels = [p["label"] for p in state.people]
    assert people["lee"].email in labels and admin.email in labels
    roles = [p["role"] for p in state.people]
    assert roles.index("patient") > max(i for i, r in enumerate(roles) if r != "patient")
    # ...and can still be managed.
    await call(state, "set_active", str(people["lee"].user_id), False)
    assert "disabled" in state.notice


def test_list_users_gives_no_patient_name_or_email(session):
    people = clinic(session)
    admin = actor_of(session, make_admin(session))
    rows = {r.id: r for r in users.list_users(session, actor=admin)}
    session.commit()
    maria = rows[people["maria"].user_id]
    assert (maria.email, maria.name) == ("", "")
    assert rows[people["lee"].user_id].email == people["lee"].email
