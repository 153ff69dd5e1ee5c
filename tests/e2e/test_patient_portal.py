"""Patient journeys on a phone-sized screen (390x844)."""

from __future__ import annotations

import re
import sqlite3
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser import PHONE, screenshot, sign_in
from tests.fixtures import files

pytestmark = pytest.mark.e2e
MARIA = "maria.garcia@demo.care"


def _db(app_server) -> sqlite3.Connection:
    return sqlite3.connect(app_server.env["DATABASE_URL"].removeprefix("sqlite:///"))


def _unread_by_topic(app_server, email: str) -> dict[str, int]:
    with _db(app_server) as db:
        rows = db.execute(
            "select c.id, c.last_seq - coalesce(r.last_read_seq, 0) from conversations c "
            "join patients p on p.id = c.patient_id join users u on u.id = p.user_id "
            "left join read_states r on r.conversation_id = c.id and r.user_id = u.id "
            "where u.email = ?", (email,)).fetchall()
    return {str(cid): max(0, unread) for cid, unread in rows}


def _patient_page(new_context, email: str = MARIA):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    return page


def test_list_badges_match_the_database_and_opening_clears_one(new_context, app_server):
    page = _patient_page(new_context)
    expected = _unread_by_topic(app_server, MARIA)
    rows = page.get_by_role("list", name="Conversations").get_by_role("listitem")
    expect(rows).to_have_count(len(expected))
    screenshot(page, "patient-portal-list-phone")
    for cid, unread in expected.items():
        row = page.locator(f'a[href="/portal?c={cid}"]')
        badge = row.locator(".unread-badge")
        if unread:
            expect(badge).to_have_text(str(unread))
        else:
            expect(badge).to_have_count(0)
    unread_id = next(cid for cid, n in expected.items() if n)
    page.locator(f'a[href="/portal?c={unread_id}"]').click()
    expect(page.get_by_role("log", name="Messages")).to_be_visible()
    expect(page.get_by_text("For emergencies call 911 or your local emergency number.")).to_be_visible()
    page.get_by_role("button", name="Close chat").click()
    expect(page.locator(f'a[href="/portal?c={unread_id}"] .unread-badge')).to_have_count(0)
    assert _unread_by_topic(app_server, MARIA)[unread_id] == 0


def _open_active_conversation(page, app_server) -> str:
    with _db(app_server) as db:
        (cid,) = db.execute(
            "select c.id from conversations c join patients p on p.id = c.patient_id "
            "where p.mrn = 'P-100200' and c.status = 'active' order by c.id limit 1").fetchone()
    page.goto(f"/portal?c={cid}")
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    return str(cid)


def test_reply_with_image_and_pdf_then_download_back(new_context, app_server, tmp_path):
    page = _patient_page(new_context)
    cid = _open_active_conversation(page, app_server)
    image, document = tmp_path / "rash.png", tmp_path / "lab-report.pdf"
    image.write_bytes(files.png(8, 8))
    document.write_bytes(files.pdf("Potassium 4.1"))
    page.locator("#chat-upload input[type=file]").set_input_files([str(image), str(document)])
    expect(page.get_by_label("Files to send")).to_contain_text("rash.png")
    expect(page.get_by_label("Files to send")).to_contain_text("lab-report.pdf")
    text = f"Photo and lab report attached {uuid.uuid4().hex[:6]}"
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Send", exact=True).click()
    log = page.get_by_role("log", name="Messages")
    mine = log.get_by_role("article").filter(has_text=text)
    expect(mine).to_contain_text("You")
    expect(mine.locator(".message-status")).to_have_text(re.compile("Sent|Delivered|Read"))
    expect(mine.get_by_role("img", name="rash.png")).to_be_visible()
    link = mine.get_by_role("link", name="Download lab-report.pdf")
    expect(link).to_be_visible()
    with page.expect_download() as download_info:
        link.click()  # as a user does: a real download, not in-app navigation
    saved = tmp_path / "downloaded.pdf"
    download_info.value.save_as(saved)
    assert saved.read_bytes() == document.read_bytes()
    response = page.context.request.get(link.get_attribute("href"))
    assert response.ok and response.body() == document.read_bytes()
    assert response.headers["content-disposition"].startswith("attachment")
    screenshot(page, "patient-portal-chat-phone")
    # The provider sees the reply and the attachments on the dashboard.
    provider = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(provider, "jordan.lee@demo.care")
    provider.goto(f"/dashboard?c={cid}")
    theirs = provider.get_by_role("log", name="Messages").get_by_role("article").filter(
        has_text=text)
    expect(theirs).to_contain_text("Maria Garcia")
    expect(theirs.get_by_role("img", name="rash.png")).to_be_visible()
    pdf = provider.context.request.get(
        theirs.get_by_role("link", name="Download lab-report.pdf").get_attribute("href"))
    assert pdf.body() == document.read_bytes()


@pytest.mark.parametrize(("name", "data", "message"), [
    ("report.pdf", files.HTML_AS_PDF, "can't be attached"),
    ("setup.exe", files.WINDOWS_EXE, "can't be attached"),
    ("huge.png", files.png() + b"\x00" * (10 * 1024 * 1024 + 1), "too large"),
])
def test_refused_files_explain_why(new_context, app_server, tmp_path, name, data, message):
    page = _patient_page(new_context)
    _open_active_conversation(page, app_server)
    with _db(app_server) as db:
        before = db.execute("select count(*) from attachments").fetchone()[0]
    path = tmp_path / name
    path.write_bytes(data)
    page.locator("#chat-upload input[type=file]").set_input_files(str(path))
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(page.get_by_label("Files to send")).to_have_count(0)
    with _db(app_server) as db:
        assert db.execute("select count(*) from attachments").fetchone()[0] == before


def test_start_a_new_conversation(new_context):
    page = _patient_page(new_context)
    expect(page.get_by_role("list", name="Conversations")).to_be_visible()
    page.get_by_role("button", name="New message").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Category").select_option("medication")
    topic = f"Refill request {uuid.uuid4().hex[:6]}"
    dialog.get_by_label("Topic").fill(topic)
    dialog.get_by_label("Reason").fill("Running low")
    dialog.get_by_label("Message").fill("I am almost out of lisinopril.")
    dialog.get_by_role("button", name="Send message").click()
    expect(page).to_have_url(re.compile(r"/portal\?c=\d+"))
    expect(page.get_by_role("heading", name=topic)).to_be_visible()
    expect(page.get_by_role("log", name="Messages")).to_contain_text("almost out of lisinopril")
    page.get_by_role("button", name="Close chat").click()
    expect(page.get_by_role("list", name="Conversations").get_by_role("listitem").first
           ).to_contain_text(topic)


def test_sign_out_stays_on_screen_on_a_phone(new_context):
    page = _patient_page(new_context)
    button = page.get_by_role("button", name="Sign out")
    expect(button).to_be_in_viewport()
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]


def test_a_keyboard_user_reaches_older_messages(new_context, long_thread):
    cid, last_seq = long_thread
    page = _patient_page(new_context)
    page.goto(f"/portal?c={cid}")
    log = page.get_by_role("log", name="Messages")
    expect(log.get_by_test_id("message")).to_have_count(30)
    older = log.get_by_role("button", name="Load older messages")
    older.focus()  # focusing scrolls it into view, which loads a page by itself as well
    older.press("Enter")
    expect(log.get_by_test_id("message")).not_to_have_count(30)
    assert 30 < log.get_by_test_id("message").count() <= last_seq
