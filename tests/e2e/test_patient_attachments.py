"""Attachments end to end at phone size: the browser download is byte-identical, and the real
download route answers other patients, outside providers and signed-out browsers with one 404."""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import PHONE, screenshot, sign_in
from tests.fixtures import files

pytestmark = pytest.mark.e2e
MARIA, JAMES = "maria.garcia@demo.care", "james.smith@demo.care"
LEE, NOVAK = "jordan.lee@demo.care", "casey.novak@demo.care"


def _db(app_server) -> sqlite3.Connection:
    return sqlite3.connect(app_server.env["DATABASE_URL"].removeprefix("sqlite:///"))


def _attachment_count(app_server) -> int:
    with _db(app_server) as db:
        return db.execute("select count(*) from attachments").fetchone()[0]


def _maria_in_active_chat(new_context, app_server):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                       accept_downloads=True).new_page()
    sign_in(page, MARIA)
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    with _db(app_server) as db:
        (cid,) = db.execute(
            "select c.id from conversations c join patients p on p.id = c.patient_id "
            "where p.mrn = 'P-100200' and c.status = 'active' order by c.id desc limit 1"
        ).fetchone()
    page.goto(f"/portal?c={cid}")
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    return page


def _get_as(new_context, email: str | None, href: str):
    ctx = new_context()
    if email:
        page = ctx.new_page()
        sign_in(page, email)
        expect(page).not_to_have_url(re.compile(r"/login"))
    return ctx.request.get(href)


def test_download_is_identical_and_everyone_else_gets_the_same_404(new_context, app_server,
                                                                   tmp_path):
    page = _maria_in_active_chat(new_context, app_server)
    image, document = tmp_path / "elbow.png", tmp_path / "discharge-note.pdf"
    image.write_bytes(files.png(12, 12, (10, 120, 200)))
    document.write_bytes(files.pdf(f"Discharge {uuid.uuid4().hex[:8]}"))
    page.locator("#chat-upload input[type=file]").set_input_files([str(image), str(document)])
    chips = page.get_by_label("Files to send")
    expect(chips).to_contain_text("elbow.png")
    expect(chips).to_contain_text("discharge-note.pdf")
    text = f"Elbow photo and note {uuid.uuid4().hex[:6]}"
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("textbox", name="Message").press("Enter")
    mine = page.get_by_role("log", name="Messages").get_by_role("article").filter(has_text=text)
    expect(mine.get_by_role("img", name="elbow.png")).to_be_visible()
    link = mine.get_by_role("link", name="Download discharge-note.pdf")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "discharge-note.pdf"
    assert Path(download.path()).read_bytes() == document.read_bytes()
    # A click downloads; it must not navigate the app away from the chat (React Router).
    expect(page).to_have_url(re.compile(r"/portal/?\?c=\d+$"))
    expect(mine).to_be_visible()
    screenshot(page, "patient-attachments-chat-phone")

    href = link.get_attribute("href")
    assert re.fullmatch(r"/api/attachments/\d+(\?.*)?", href or "")
    own = page.context.request.get(href)
    assert own.ok and own.body() == document.read_bytes()
    assert own.headers["content-disposition"].startswith("attachment")
    assert own.headers["x-content-type-options"] == "nosniff"
    assert own.headers["cache-control"] == "no-store"
    assert own.headers["content-type"] == "application/pdf"

    team = _get_as(new_context, LEE, href)
    assert team.ok and team.body() == document.read_bytes()
    refusals = {who: _get_as(new_context, email, href)
                for who, email in (("other patient", JAMES), ("outside provider", NOVAK),
                                   ("signed out", None))}
    refusals["nonexistent"] = page.context.request.get("/api/attachments/987654321")
    for who, response in refusals.items():
        assert response.status == 404, who
        assert response.text() == "Not found", who
        assert "content-disposition" not in response.headers, who
        assert response.headers["cache-control"] == "no-store", who


def test_misnamed_file_is_refused_with_a_clear_message(new_context, app_server, tmp_path):
    page = _maria_in_active_chat(new_context, app_server)
    before = _attachment_count(app_server)
    disguised = tmp_path / "results.pdf"
    disguised.write_bytes(files.png())
    page.locator("#chat-upload input[type=file]").set_input_files(str(disguised))
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("does not match its contents")
    expect(alert).to_contain_text("Rename it to end in .png")
    expect(page.get_by_label("Files to send")).to_have_count(0)
    assert _attachment_count(app_server) == before
    screenshot(page, "patient-attachments-refused-phone")
