"""The page asked for before signing in is where sign-in returns to, but only one of our own
pages (no open redirect); "Your session ended" only for a session that did end; ``/`` goes to
sign-in or the user's landing page."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from care_messaging.models import AuthSession
from care_messaging.navigation import after_sign_in, login_url, safe_next_path
from care_messaging.pages.dashboard import DashboardState
from care_messaging.pages.login import LoginState
from care_messaging.pages.portal import PortalState
from care_messaging.services import auth
from care_messaging.settings import get_settings
from care_messaging.web.auth_routes import routes as auth_routes
from tests.factories import PASSWORD, clinic, make_admin
from tests.state.helpers import call, make_state, redirect_path, sign_in_token

ORIGIN = {"Origin": "http://localhost:3000"}

UNSAFE = [
    "https://evil.example/dashboard", "//evil.example/dashboard", "/\\evil.example",
    "\\\\evil.example", "/dashboard\r\nLocation: https://evil.example", "javascript:alert(1)",
    "/api/auth/logout", "/login", "/_upload/x", "/dashboard/../api/health", "dashboard",
    "/%2F%2Fevil.example", "/ /evil.example", "http:/evil.example", "/" + "a" * 400, "",
]


@pytest.mark.parametrize("value", UNSAFE)
def test_unsafe_return_paths_are_dropped(value):
    assert safe_next_path(value) == ""
    assert after_sign_in("patient", value) == "/portal"
    assert "next=" not in login_url(notice="expired", next_path=value)


@pytest.mark.parametrize(("value", "kept"), [
    ("/dashboard", "/dashboard"), ("/dashboard/", "/dashboard"),
    ("/dashboard?c=12", "/dashboard?c=12"), ("/patients?id=3", "/patients?id=3"),
    ("/portal/help", "/portal/help"), ("/portal?c=5#x", "/portal?c=5"), ("/account", "/account"),
])
def test_own_pages_are_kept(value, kept):
    assert safe_next_path(value) == kept
    role = "patient" if kept.startswith("/portal") else "provider"
    assert after_sign_in(role, value) == kept
    # Someone else's kind of page: the user's own home instead.
    assert after_sign_in("admin", value) == ("/account" if kept == "/account" else "/admin")


@pytest.fixture
def client(db_url):
    return TestClient(Starlette(routes=auth_routes), base_url="http://localhost:3000")


def _login(client, email: str, *, next_path: str = "", password: str = PASSWORD) -> str:
    response = client.post("/api/auth/login", data={"email": email, "password": password,
                                                    "next": next_path},
                           headers=ORIGIN, follow_redirects=False)
    assert response.status_code == 303
    return response.headers["location"]


def test_sign_in_returns_to_the_page_asked_for_and_nowhere_else(client, session):
    people = clinic(session)
    maria = people["maria"].email
    assert _login(client, maria, next_path="/portal?c=7") == "/portal?c=7"
    for value in UNSAFE:
        client.cookies.clear()
        assert _login(client, maria, next_path=value) == "/portal", value
    # A failed attempt keeps the page to return to (safe ones only) for the next try.
    client.cookies.clear()
    assert _login(client, maria, password="wrong", next_path="/portal?c=7") == (
        "/login?" + urlencode({"error": "invalid", "next": "/portal?c=7"}))  # never the email
    assert "next=" not in _login(client, maria, password="wrong",
                                 next_path="https://evil.example")


def test_root_goes_to_sign_in_or_the_landing_page(client, session):
    people = clinic(session)
    admin = make_admin(session)
    response = client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert response.headers["cache-control"] == "no-store"
    for email, landing in ((people["lee"].email, "/dashboard"),
                           (people["maria"].email, "/portal"), (admin.email, "/admin")):
        client.cookies.clear()
        _login(client, email)
        assert client.get("/", follow_redirects=False).headers["location"] == landing
    client.cookies.set(auth.SESSION_COOKIE, "forged")
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


# ----- what the pages' guards say (handlers called as a tab would) -----

async def test_first_visit_is_a_plain_sign_in_that_returns_to_the_page(session):
    clinic(session)
    for token in (None, "forged-token-value"):
        state = make_state(DashboardState, token=token, path="/dashboard", query="c=12")
        assert redirect_path(await call(state, "load")) == "/login?next=%2Fdashboard%3Fc%3D12"


def _age(session, token: str, **delta) -> AuthSession:
    row = session.exec(select(AuthSession).where(
        AuthSession.token_hash == auth.hash_token(token))).one()
    row.last_seen_at -= timedelta(**delta)
    session.add(row)
    session.commit()
    return row


async def test_an_ended_session_says_so(session):
    people = clinic(session)
    idle = get_settings().idle_timeout_seconds
    # Idle: the first sight ends it, and every later one still says it ended.
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    _age(session, token, seconds=idle + 5)
    for _ in range(2):
        state = make_state(PortalState, token=token, path="/portal")
        assert redirect_path(await call(state, "load")) == "/login?reason=expired&next=%2Fportal"
    # Revoked (the account was disabled): ended too.
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    auth.revoke_user_sessions(session, user_id=people["lee"].user_id, reason="disabled")
    session.commit()
    state = make_state(DashboardState, token=token, path="/dashboard")
    assert redirect_path(await call(state, "load")) == "/login?reason=expired&next=%2Fdashboard"
    # Signed out (in another tab of this browser): "You have been signed out".
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    auth.logout(session, token=token)
    session.commit()
    state = make_state(PortalState, token=token, path="/portal")
    assert redirect_path(await call(state, "load")) == (
        "/login?reason=signed_out&next=%2Fportal")


async def test_login_page_keeps_only_a_safe_next_and_shows_no_notice_on_a_first_visit(session):
    state = make_state(LoginState, path="/login", query="next=/dashboard")
    await call(state, "load")
    assert (state.notice, state.next_path) == ("", "/dashboard")
    state = make_state(LoginState, path="/login", query="next=//evil.example&reason=expired")
    await call(state, "load")
    assert state.next_path == ""
    assert state.notice == "Your session ended. Please sign in again."


async def test_signed_in_user_on_the_login_page_goes_on_to_next(session):
    people = clinic(session)
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(LoginState, token=token, path="/login", query="next=/patients?id=1")
    events = await call(state, "load")
    assert redirect_path(await call(state, "redirect_if_signed_in")) == "/patients?id=1"
    assert events  # load hands on to redirect_if_signed_in
    state = make_state(LoginState, token=token, path="/login", query="next=https://evil.example")
    assert redirect_path(await call(state, "redirect_if_signed_in")) == "/dashboard"
