"""One journey for the app served from two origins of one site (the pages on one port, the
backend on another): the split deployment (``reflex export`` + a static server) and
``reflex run`` in development. A provider and a patient sign in (the forms post to the
backend, which sends them back to the pages' origin), exchange messages live over the
backend's websocket (the session cookie reaches it), upload and download an attachment from the
backend's origin, and sign out."""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path
from typing import Protocol

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser import DEMO_PASSWORD, PHONE, screenshot
from tests.fixtures import files

LEE, MARIA = "jordan.lee@demo.care", "maria.garcia@demo.care"


class TwoOrigins(Protocol):
    front_url: str
    back_url: str

    @property
    def db_path(self) -> Path: ...


def _page(browser: Browser, app: TwoOrigins, made: list[BrowserContext], timeout_ms: int,
          **kw) -> Page:
    ctx = browser.new_context(base_url=app.front_url, accept_downloads=True, **kw)
    ctx.set_default_timeout(timeout_ms)
    made.append(ctx)
    return ctx.new_page()


def _sign_in(page: Page, app: TwoOrigins, email: str) -> None:
    page.goto("/login")
    form = page.locator("form").filter(has=page.get_by_label("Password"))
    # The form names the backend's origin: the pages' server has no /api routes.
    expect(form).to_have_attribute("action", f"{app.back_url}/api/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _maria_conversation(app: TwoOrigins) -> int:
    with sqlite3.connect(app.db_path) as db:
        (cid,) = db.execute(
            "select c.id from conversations c join patients p on p.id = c.patient_id "
            "where p.mrn = 'P-100200' and c.status = 'active' order by c.id desc limit 1"
        ).fetchone()
    return cid


def message_share_and_sign_out(browser: Browser, app: TwoOrigins,
                               contexts: list[BrowserContext], tmp_path: Path,
                               shot: str, timeout_ms: int = 20000) -> None:
    # Every wait of the journey (assertions included) gets the caller's patience: the
    # development server compiles each page on its first request.
    expect.set_options(timeout=timeout_ms)
    try:
        _journey(browser, app, contexts, tmp_path, shot, timeout_ms)
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default, for the tests that follow


def _journey(browser: Browser, app: TwoOrigins, contexts: list[BrowserContext],
             tmp_path: Path, shot: str, timeout_ms: int) -> None:
    front = re.escape(app.front_url)
    lee = _page(browser, app, contexts, timeout_ms, viewport={"width": 1280, "height": 800})
    _sign_in(lee, app, LEE)
    # Back on the pages' origin, signed in: the list comes over the websocket alone (no
    # server-rendered first rows: the pages' server knows no session).
    expect(lee).to_have_url(re.compile(front + r"/dashboard"))
    expect(lee.get_by_test_id("conversation-row").first).to_be_visible()

    maria = _page(browser, app, contexts, timeout_ms, viewport=PHONE, is_mobile=True)
    _sign_in(maria, app, MARIA)
    expect(maria).to_have_url(re.compile(front + r"/portal"))
    cid = _maria_conversation(app)
    maria.goto(f"/portal?c={cid}")
    expect(maria.get_by_role("textbox", name="Message")).to_be_visible()

    # Live both ways.
    lee.goto(f"/dashboard?c={cid}")
    text = f"Split origin hello {uuid.uuid4().hex[:6]}"
    lee.get_by_role("textbox", name="Reply").fill(text)
    lee.get_by_role("button", name="Send").click()
    expect(maria.get_by_role("log", name="Messages")).to_contain_text(text)

    # An upload posted to the backend's origin (with the session cookie), sent live.
    note = tmp_path / "split-note.pdf"
    note.write_bytes(files.pdf(f"Split {uuid.uuid4().hex[:8]}"))
    maria.locator("#chat-upload input[type=file]").set_input_files([str(note)])
    expect(maria.get_by_label("Files to send")).to_contain_text("split-note.pdf")
    answer = f"Here is my note {uuid.uuid4().hex[:6]}"
    maria.get_by_role("textbox", name="Message").fill(answer)
    maria.get_by_role("textbox", name="Message").press("Enter")
    expect(lee.get_by_role("log", name="Messages")).to_contain_text(answer)

    # The download link points at the backend, and the file arrives byte for byte.
    bubble = lee.get_by_role("log", name="Messages").get_by_role("article").filter(
        has_text=answer)
    link = bubble.get_by_role("link", name="Download split-note.pdf")
    href = link.get_attribute("href") or ""
    assert href.startswith(f"{app.back_url}/api/attachments/"), href
    with lee.expect_download() as download_info:
        link.click()
    assert Path(download_info.value.path()).read_bytes() == note.read_bytes()
    screenshot(lee, shot)

    # Sign-out reaches the backend and lands on the pages' sign-in form; the session is over
    # for the backend too (the same link now answers 404).
    for page in (lee, maria):
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(front + r"/login/?\?"))
        expect(page.get_by_label("Email")).to_be_visible()
    assert lee.context.request.get(href).status == 404
    lee.goto("/dashboard")
    expect(lee).to_have_url(re.compile(front + r"/login"))
