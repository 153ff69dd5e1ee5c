"""Retract and correct seen live by the other side and after a reload; the provider's history;
a draft typed on one page restored on a second page; "Draft" in both lists."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot, sign_in

pytestmark = pytest.mark.e2e

RETRACTED = "Message retracted by the sender"


def _db(app_server) -> sqlite3.Connection:
    return sqlite3.connect(app_server.env["DATABASE_URL"].removeprefix("sqlite:///"))


def _conversation_of(app_server, mrn: str = "P-100200", offset: int = 0) -> int:
    """An open conversation of Maria Garcia (on the primary team: Lee and Patel)."""
    with _db(app_server) as db:
        return db.execute(
            "select c.id from conversations c join patients p on p.id = c.patient_id "
            "where p.mrn = ? and c.status != 'completed' order by c.id limit 1 offset ?",
            (mrn, offset)).fetchone()[0]


def _page(new_context, email: str, path: str):
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, email)
    page.goto(path)
    expect(page.get_by_role("log", name="Messages")).to_be_visible()
    return page


def _bubble(page, text: str):
    return page.get_by_role("log", name="Messages").get_by_role("article").filter(has_text=text)


def test_retract_and_correct_live_after_reload_and_the_history(new_context, app_server):
    cid = _conversation_of(app_server)
    maria = _page(new_context, "maria.garcia@demo.care", f"/portal?c={cid}")
    lee = _page(new_context, "jordan.lee@demo.care", f"/dashboard?c={cid}")
    first, second = (f"Wrong dose {uuid.uuid4().hex[:6]}", f"Typo here {uuid.uuid4().hex[:6]}")
    box = maria.get_by_role("textbox", name="Message")
    for text in (first, second):
        box.fill(text)
        box.press("Enter")
        expect(_bubble(lee, text)).to_be_visible()  # reached the provider live

    # Retract: the provider's open thread and list preview show the notice, without a reload.
    _bubble(maria, first).get_by_role("button", name="Retract this message").click()
    expect(_bubble(maria, RETRACTED).first).to_be_visible()
    expect(_bubble(lee, first)).to_have_count(0)
    # Correct: the new text marked "edited", live.
    corrected = f"Right words {uuid.uuid4().hex[:6]}"
    _bubble(maria, second).get_by_role("button", name="Correct this message").click()
    dialog = maria.get_by_role("dialog")
    dialog.get_by_role("textbox", name="Corrected message").fill(corrected)
    dialog.get_by_role("button", name="Save correction").click()
    expect(dialog).to_be_hidden()
    edited = _bubble(lee, corrected)
    expect(edited).to_be_visible()
    expect(edited).to_contain_text("edited")
    expect(_bubble(lee, second)).to_have_count(0)
    expect(lee.get_by_role("log", name="Messages")).to_contain_text(RETRACTED)
    rows = lee.get_by_role("list", name="Conversations").get_by_role("listitem")
    expect(rows.filter(has_text=corrected)).to_have_count(1)  # the list's preview
    screenshot(lee, "retract-correct-live")

    # After a reload, both sides still show the notice and the correction, never the text.
    for page in (lee, maria):
        page.reload()
        log = page.get_by_role("log", name="Messages")
        expect(log).to_contain_text(corrected)
        expect(log).to_contain_text(RETRACTED)
        expect(log).not_to_contain_text(first)
        expect(log).not_to_contain_text(second)

    # The provider's history: the original and the correction, with their times.
    _bubble(lee, corrected).get_by_role("button", name="Show the history of this message").click()
    history = lee.get_by_role("dialog")
    entries = history.get_by_test_id("history-entry")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_contain_text("Original")
    expect(entries.nth(0)).to_contain_text(second)
    expect(entries.nth(1)).to_contain_text("Corrected")
    expect(entries.nth(1)).to_contain_text(corrected)
    expect(entries.nth(0).locator("time")).to_have_count(1)
    screenshot(lee, "message-history")
    # The patient has no history button.
    expect(maria.get_by_role("button", name="Show the history of this message")).to_have_count(0)


def test_a_draft_typed_on_one_page_is_restored_on_a_second_and_listed(new_context,
                                                                       app_server):
    cid = _conversation_of(app_server, offset=1)
    first = _page(new_context, "priya.patel@demo.care", f"/dashboard?c={cid}")
    text = f"Half a reply {uuid.uuid4().hex[:6]}"
    first.get_by_role("textbox", name="Reply").press_sequentially(text, delay=20)
    # Saved after a pause: the list says "Draft" for this conversation. The list is narrowed
    # to Maria's conversations: after the rest of the suite, hers may no longer be among the
    # provider's first page of most recently active ones.
    first.get_by_role("searchbox", name="Search conversations").fill("P-100200")
    rows = first.get_by_role("list", name="Conversations").get_by_role("listitem")
    expect(rows.filter(has=first.get_by_test_id("draft"))).to_have_count(1, timeout=15000)
    # Another device (its own browser context) opens the same conversation: the text is back.
    second = _page(new_context, "priya.patel@demo.care", f"/dashboard?c={cid}")
    expect(second.get_by_role("textbox", name="Reply")).to_have_value(text)
    second.get_by_role("searchbox", name="Search conversations").fill("P-100200")
    second_rows = second.get_by_role("list", name="Conversations").get_by_role("listitem")
    expect(second_rows.filter(has=second.get_by_test_id("draft"))).to_have_count(1)
    screenshot(second, "draft-restored")
    # Sent from the second page: the draft is gone there and for the next page opened.
    second.get_by_role("textbox", name="Reply").press("Enter")
    expect(_bubble(second, text)).to_be_visible()
    expect(second_rows.filter(has=second.get_by_test_id("draft"))).to_have_count(0)
    third = _page(new_context, "priya.patel@demo.care", f"/dashboard?c={cid}")
    expect(third.get_by_role("log", name="Messages")).to_contain_text(text)
    expect(third.get_by_role("textbox", name="Reply")).to_have_value("")


def test_the_patient_list_says_draft(new_context, app_server):
    cid = _conversation_of(app_server, offset=2)
    maria = _page(new_context, "maria.garcia@demo.care", f"/portal?c={cid}")
    text = f"Not sent yet {uuid.uuid4().hex[:6]}"
    maria.get_by_role("textbox", name="Message").press_sequentially(text, delay=20)
    maria.wait_for_timeout(1500)  # the pause that saves it
    maria.goto("/portal")
    rows = maria.get_by_role("listitem").filter(has=maria.get_by_test_id("draft"))
    expect(rows).to_have_count(1, timeout=15000)
    maria.goto(f"/portal?c={cid}")
    expect(maria.get_by_role("textbox", name="Message")).to_have_value(text)
