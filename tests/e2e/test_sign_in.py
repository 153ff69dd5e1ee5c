"""Each demo role signs in through the real login form and lands on its own page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot, sign_in

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("email", "path", "heading"),
    [
        ("jordan.lee@demo.care", "/dashboard", "Messages"),
        ("maria.garcia@demo.care", "/portal", "Messages with your care team"),
        ("admin@demo.care", "/admin", "Audit log"),
    ],
)
def test_each_role_lands_on_its_own_page(new_context, email, path, heading):
    page = new_context().new_page()
    sign_in(page, email)
    expect(page).to_have_url(re.compile(rf"{path}/?$"))
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    screenshot(page, f"landing-{path.strip('/')}")


def test_login_page_and_wrong_password(new_context):
    page = new_context().new_page()
    sign_in(page, "jordan.lee@demo.care", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("Incorrect email or password")
    screenshot(page, "login-error")


def test_sign_out_ends_the_session_and_pages_are_guarded(new_context):
    ctx = new_context()
    page = ctx.new_page()
    sign_in(page, "maria.garcia@demo.care")
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    cookie = next(c for c in ctx.cookies() if c["name"] == "care_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have been signed out")).to_be_visible()
    # The old token is dead on the server even if someone kept a copy of it.
    ctx.add_cookies([{**cookie}])
    page.goto("/portal")
    expect(page).to_have_url(re.compile(r"/login"))


def test_wrong_role_is_sent_to_its_own_page(new_context):
    page = new_context().new_page()
    sign_in(page, "maria.garcia@demo.care")
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    page.goto("/dashboard")
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/portal/?$"))


def test_idle_warning_and_stay_signed_in(new_context, app_server):
    import hashlib
    import sqlite3
    from datetime import UTC, datetime, timedelta

    ctx = new_context()
    page = ctx.new_page()
    sign_in(page, "james.smith@demo.care")
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    # Wait until the page has loaded (its load handler touches the session) before ageing it.
    expect(page.get_by_role("list", name="Conversations")).to_be_visible()
    page.wait_for_timeout(1000)
    token = next(c["value"] for c in ctx.cookies() if c["name"] == "care_session")
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    database = app_server.env["DATABASE_URL"].removeprefix("sqlite:///")
    # 30 s of idle time left: inside the 60 s warning window.
    almost_idle = datetime.now(UTC) - timedelta(seconds=15 * 60 - 30)
    with sqlite3.connect(database) as db:
        db.execute("update auth_sessions set last_seen_at = ? where token_hash = ?",
                   (almost_idle.replace(tzinfo=None).isoformat(sep=" "), token_hash))
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("you will be signed out", timeout=15000)
    screenshot(page, "idle-warning")
    dialog.get_by_role("button", name="Stay signed in").click()
    expect(dialog).to_be_hidden()
    with sqlite3.connect(database) as db:
        (seen,) = db.execute("select last_seen_at from auth_sessions where token_hash = ?",
                             (token_hash,)).fetchone()
    assert datetime.fromisoformat(seen).replace(tzinfo=UTC) > almost_idle + timedelta(seconds=20)
