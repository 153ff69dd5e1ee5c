"""Split deployment: the pages from ``reflex export`` served by Python's static file server on
one port, the backend (``reflex run --backend-only``) on another: two origins of one site.

A provider and a patient sign in (the forms post to the backend, which sends them back to the
pages' origin), exchange messages live over the backend's websocket (the session cookie
reaches it), upload and download an attachment from the backend's origin, and sign out. The
dashboard has no server-rendered first rows here (the static server knows no session): the
live list must fill it. One export build serves every test of the module.
"""

from __future__ import annotations

import re
import sqlite3
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser import DEMO_PASSWORD, PHONE, screenshot
from tests.e2e.deploy_servers import SplitApp
from tests.fixtures import files

pytestmark = pytest.mark.e2e
LEE, MARIA = "jordan.lee@demo.care", "maria.garcia@demo.care"


@pytest.fixture(scope="module")
def split_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SplitApp]:
    app = SplitApp(tmp_path_factory.mktemp("split-origin"))
    yield app
    app.stop()


@pytest.fixture
def contexts(browser: Browser, split_app: SplitApp) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for ctx in made:
        ctx.close()


def _page(browser: Browser, split_app: SplitApp, made: list[BrowserContext], **kw) -> Page:
    ctx = browser.new_context(base_url=split_app.front_url, accept_downloads=True, **kw)
    ctx.set_default_timeout(20000)
    made.append(ctx)
    return ctx.new_page()


def _sign_in(page: Page, split_app: SplitApp, email: str) -> None:
    page.goto("/login/")
    form = page.locator("form").filter(has=page.get_by_label("Password"))
    # The form names the backend's origin: the static server has no /api routes.
    expect(form).to_have_attribute("action", f"{split_app.back_url}/api/auth/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def _maria_conversation(split_app: SplitApp) -> int:
    with sqlite3.connect(split_app.db_path) as db:
        (cid,) = db.execute(
            "select c.id from conversations c join patients p on p.id = c.patient_id "
            "where p.mrn = 'P-100200' and c.status = 'active' order by c.id desc limit 1"
        ).fetchone()
    return cid


def test_provider_and_patient_message_live_share_a_file_and_sign_out(browser, split_app,
                                                                      contexts, tmp_path):
    front = re.escape(split_app.front_url)
    lee = _page(browser, split_app, contexts, viewport={"width": 1280, "height": 800})
    _sign_in(lee, split_app, LEE)
    # Back on the pages' origin, signed in: the list comes over the websocket alone (the
    # static server's dashboard has an empty first-rows placeholder).
    expect(lee).to_have_url(re.compile(front + r"/dashboard"))
    expect(lee.get_by_test_id("conversation-row").first).to_be_visible()
    html = lee.context.request.get(f"{split_app.front_url}/dashboard/").text()
    assert 'data-testid="conversation-row"' not in html

    maria = _page(browser, split_app, contexts, viewport=PHONE, is_mobile=True)
    _sign_in(maria, split_app, MARIA)
    expect(maria).to_have_url(re.compile(front + r"/portal"))
    cid = _maria_conversation(split_app)
    maria.goto(f"/portal/?c={cid}")
    expect(maria.get_by_role("textbox", name="Message")).to_be_visible()

    # Live both ways.
    lee.goto(f"/dashboard/?c={cid}")
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
    assert href.startswith(f"{split_app.back_url}/api/attachments/"), href
    with lee.expect_download() as download_info:
        link.click()
    assert Path(download_info.value.path()).read_bytes() == note.read_bytes()
    screenshot(lee, "split-origin-dashboard")

    # Sign-out reaches the backend and lands on the pages' sign-in form; the session is over
    # for the backend too (the same link now answers 404).
    for page in (lee, maria):
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(front + r"/login/?\?"))
        expect(page.get_by_label("Email")).to_be_visible()
    assert lee.context.request.get(href).status == 404
    lee.goto("/dashboard/")
    expect(lee).to_have_url(re.compile(front + r"/login"))


def _post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_backend_trusts_only_the_pages_origin(split_app):
    """CORS and the sign-in origin check are pinned to the pages' origin: another origin's
    form gets the error page (no session), its upload preflight no CORS grant, and an upload
    without the session cookie is refused before its body is read."""
    form = f"email={LEE}&password={DEMO_PASSWORD}".replace("@", "%40").encode()
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status, headers = _post(f"{split_app.back_url}/api/auth/login", form,
                            {**form_headers, "Origin": split_app.front_url})
    assert status == 303 and headers["location"] == f"{split_app.front_url}/dashboard"
    assert "care_session=" in headers.get("set-cookie", "")
    status, headers = _post(f"{split_app.back_url}/api/auth/login", form,
                            {**form_headers, "Origin": "http://localhost:1"})
    assert status == 303 and "error=invalid" in headers["location"]
    assert "care_session=" not in headers.get("set-cookie", "")

    def preflight(origin: str) -> dict[str, str]:
        request = urllib.request.Request(
            f"{split_app.back_url}/_upload", method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "reflex-client-token"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return dict(response.headers)
        except urllib.error.HTTPError as error:
            return dict(error.headers)

    assert preflight(split_app.front_url).get("access-control-allow-origin") == \
        split_app.front_url
    assert "access-control-allow-origin" not in {
        k.lower() for k in preflight("http://localhost:1")}
    status, _ = _post(f"{split_app.back_url}/_upload", b"x" * 10,
                      {"Origin": split_app.front_url, "Content-Type": "text/plain"})
    assert status == 403
