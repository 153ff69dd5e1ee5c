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
