"""Handlers called with no session, an expired one, or the wrong role do nothing but redirect."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from care_messaging.models import AuthSession
from care_messaging.pages.admin import AdminState
from care_messaging.pages.dashboard import DashboardState
from care_messaging.pages.portal import PortalState
from care_messaging.services import auth
from care_messaging.settings import get_settings
from tests.factories import PASSWORD, clinic, make_admin
from tests.state.helpers import call, make_state, redirect_path, sign_in_token

PAGES = [DashboardState, PortalState, AdminState]


@pytest.mark.parametrize("state_cls", PAGES)
async def test_no_session_redirects_to_login(session, state_cls):
    state = make_state(state_cls)
    events = await call(state, "load")
    assert redirect_path(events).startswith("/login")
    assert state.signed_in is False and state.user_name == ""


@pytest.mark.parametrize("state_cls", PAGES)
async def test_forged_cookie_redirects_to_login(session, state_cls):
    state = make_state(state_cls, token="forged-token-value")
    assert redirect_path(await call(state, "load")).startswith("/login")


async def test_expired_session_redirects_and_is_revoked(session):
    people = clinic(session)
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    row = session.exec(select(AuthSession).where(AuthSession.token_hash == auth.hash_token(token))).one()
    row.last_seen_at -= timedelta(seconds=get_settings().idle_timeout_seconds + 5)
    session.add(row)
    session.commit()
    state = make_state(DashboardState, token=token)
    assert redirect_path(await call(state, "load")).startswith("/login")
    session.refresh(row)
    assert row.revoked_reason == "idle"


async def test_valid_session_sees_own_page_and_wrong_role_is_redirected(session):
    people = clinic(session)
    admin = make_admin(session)
    provider_token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=provider_token)
    assert redirect_path(await call(state, "load")) is None
    assert state.user_name == "Dr. Lee" and state.user_role == "provider"

    patient_token = sign_in_token(session, people["maria"].email, PASSWORD)
    assert redirect_path(await call(make_state(DashboardState, token=patient_token), "load")) == "/portal"
    admin_token = sign_in_token(session, admin.email, PASSWORD)
    assert redirect_path(await call(make_state(PortalState, token=admin_token), "load")) == "/admin"
