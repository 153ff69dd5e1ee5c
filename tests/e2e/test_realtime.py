"""Live delivery between open browsers: no reloads, typing, and exactly-once after a drop."""

from __future__ import annotations

import re
import sqlite3
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot, sign_in

# A receipt from today: the time alone, in the browser's locale ("9:40 PM" or "21:40").
READ_TODAY = re.compile(r"Read \d{1,2}:\d\d( [AP]M)?")

pytestmark = pytest.mark.e2e


def _db(app_server) -> sqlite3.Connection:
    return sqlite3.connect(app_server.env["DATABASE_URL"].removeprefix("sqlite:///"))


def _conversation_of(app_server, mrn: str = "P-100200") -> tuple[int, str]:
    """A conversation of Maria Garcia (on the primary team: Lee and Patel)."""
    with _db(app_server) as db:
        return db.execute(
            "select c.id, c.topic from conversations c join patients p on p.id = c.patient_id "
            "where p.mrn = ? and c.status != 'completed' order by c.id limit 1", (mrn,)
        ).fetchone()


def _messages_with_client_id(app_server, client_id: str) -> int:
    with _db(app_server) as db:
        return db.execute("select count(*) from messages where client_msg_id = ?",
                          (client_id,)).fetchone()[0]


def _provider(new_context, email: str):
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/dashboard"))
    return page


def test_reply_reaches_a_colleague_list_live(new_context, app_server):
    conversation_id, topic = _conversation_of(app_server)
    lee = _provider(new_context, "jordan.lee@demo.care")
    patel = _provider(new_context, "priya.patel@demo.care")
    rows = patel.get_by_role("list", name="Conversations").get_by_role("listitem")
    expect(rows.first).to_be_visible()
    lee.goto(f"/dashboard?c={conversation_id}")
    text = f"Live check {uuid.uuid4().hex[:8]}"
    lee.get_by_role("textbox", name="Reply").fill(text)
    lee.get_by_role("button", name="Send").click()
    expect(lee.get_by_role("log", name="Messages")).to_contain_text(text)
    # Patel never reloads: the conversation jumps to the top with the new preview.
    expect(rows.first).to_contain_text(text)
    expect(rows.first).to_contain_text(topic)
    screenshot(patel, "realtime-colleague-list")


def test_typing_indicator_shows_and_clears(new_context, app_server):
    conversation_id, _ = _conversation_of(app_server)
    lee = _provider(new_context, "jordan.lee@demo.care")
    patel = _provider(new_context, "priya.patel@demo.care")
    lee.goto(f"/dashboard?c={conversation_id}")
    patel.goto(f"/dashboard?c={conversation_id}")
    expect(patel.get_by_role("log", name="Messages")).to_be_visible()
    expect(lee.get_by_role("textbox", name="Reply")).to_be_visible()
    lee.get_by_role("textbox", name="Reply").press_sequentially("Checking the", delay=50)
    indicator = patel.get_by_text("Dr. Jordan Lee is typing…")
    expect(indicator).to_be_visible()
    expect(indicator).to_be_hidden(timeout=12000)  # quiet for a few seconds: it clears


def test_send_while_offline_is_stored_once_after_reconnect(new_context, app_server):
    conversation_id, _ = _conversation_of(app_server)
    context = new_context(viewport={"width": 1280, "height": 900})
    lee = context.new_page()
    sign_in(lee, "jordan.lee@demo.care")
    lee.goto(f"/dashboard?c={conversation_id}")
    box = lee.get_by_role("textbox", name="Reply")
    expect(box).to_be_visible()
    text = f"Sent through a dropped line {uuid.uuid4().hex[:8]}"
    context.set_offline(True)
    lee.wait_for_timeout(1500)
    box.fill(text)
    box.press("Enter")
    # The id is made in the browser at submit, and the message waits in the tab's outbox.
    pending = lee.evaluate("window.careOutbox.pending()")
    assert len(pending) == 1 and pending[0]["state"] == "pending"
    client_id = pending[0]["cid"]
    expect(box).to_have_value("")
    expect(lee.get_by_role("log", name="Messages").get_by_text(text)).to_have_count(1)
    lee.wait_for_timeout(1500)
    # The line is down: nothing reached the server yet.
    assert _messages_with_client_id(app_server, client_id) == 0
    context.set_offline(False)
    expect(lee.get_by_role("log", name="Messages")).to_contain_text(text, timeout=30000)
    expect(lee.locator(".message-status").last).to_have_text(re.compile("Sent|Delivered|Read"),
                                                             timeout=30000)
    lee.wait_for_timeout(2000)  # any duplicate resend would have landed by now
    assert _messages_with_client_id(app_server, client_id) == 1
    lee.reload()
    expect(lee.get_by_role("log", name="Messages").get_by_text(text)).to_have_count(1)


def _maria(new_context):
    page = new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    sign_in(page, "maria.garcia@demo.care")
    expect(page).to_have_url(re.compile(r"/portal"))
    return page


def test_provider_and_patient_see_each_other_live_with_receipts(new_context, app_server):
    conversation_id, topic = _conversation_of(app_server)
    lee = _provider(new_context, "jordan.lee@demo.care")
    maria = _maria(new_context)
    row = maria.locator(f'a[href="/portal?c={conversation_id}"]')
    expect(row).to_be_visible()
    lee.goto(f"/dashboard?c={conversation_id}")
    text = f"Your potassium is normal {uuid.uuid4().hex[:6]}"
    lee.get_by_role("textbox", name="Reply").fill(text)
    lee.get_by_role("button", name="Send").click()
    bubble = lee.get_by_role("log", name="Messages").get_by_role("article").filter(has_text=text)
    status = bubble.locator(".message-status")
    # Maria's list (open, not reloaded) receives it: delivered, moved to the top, badge up.
    expect(status).to_have_text("Delivered")
    first = maria.get_by_role("list", name="Conversations").get_by_role("listitem").first
    expect(first).to_contain_text(topic)
    expect(first.locator(".unread-badge")).to_be_visible()
    screenshot(lee, "realtime-status-delivered")
    # She opens it: Lee's screen says "Read <local time>" without a reload.
    row.click()
    expect(maria.get_by_role("log", name="Messages")).to_contain_text(text)
    expect(status).to_have_text(READ_TODAY)
    # And back: Maria answers, Lee's open thread shows it live.
    answer = f"Thank you {uuid.uuid4().hex[:6]}"
    maria.get_by_role("textbox", name="Message").fill(answer)
    maria.get_by_role("button", name="Send", exact=True).click()
    expect(lee.get_by_role("log", name="Messages")).to_contain_text(answer)
    mine = maria.get_by_role("log", name="Messages").get_by_role("article").filter(has_text=answer)
    expect(mine.locator(".message-status")).to_have_text(READ_TODAY)
    screenshot(maria, "realtime-patient-read-receipt")


def test_patient_sees_the_provider_typing(new_context, app_server):
    conversation_id, _ = _conversation_of(app_server)
    lee = _provider(new_context, "jordan.lee@demo.care")
    maria = _maria(new_context)
    maria.goto(f"/portal?c={conversation_id}")
    lee.goto(f"/dashboard?c={conversation_id}")
    expect(maria.get_by_role("log", name="Messages")).to_be_visible()
    lee.get_by_role("textbox", name="Reply").press_sequentially("Let me check", delay=40)
    expect(maria.get_by_text("Dr. Jordan Lee is typing…")).to_be_visible()


def test_a_tab_that_was_offline_catches_up_and_every_tab_gets_it(new_context, app_server):
    conversation_id, _ = _conversation_of(app_server)
    lee = _provider(new_context, "jordan.lee@demo.care")
    maria_ctx = new_context(viewport={"width": 390, "height": 844})
    first, second = maria_ctx.new_page(), maria_ctx.new_page()
    sign_in(first, "maria.garcia@demo.care")
    for tab in (first, second):
        tab.goto(f"/portal?c={conversation_id}")
        expect(tab.get_by_role("log", name="Messages")).to_be_visible()
    lee.goto(f"/dashboard?c={conversation_id}")
    live = f"Both tabs {uuid.uuid4().hex[:6]}"
    lee.get_by_role("textbox", name="Reply").fill(live)
    lee.get_by_role("button", name="Send").click()
    for tab in (first, second):  # several tabs of one user
        expect(tab.get_by_role("log", name="Messages")).to_contain_text(live)
    maria_ctx.set_offline(True)
    first.wait_for_timeout(1500)
    missed = f"Sent while you were offline {uuid.uuid4().hex[:6]}"
    lee.get_by_role("textbox", name="Reply").fill(missed)
    lee.get_by_role("button", name="Send").click()
    expect(lee.get_by_role("log", name="Messages")).to_contain_text(missed)
    first.wait_for_timeout(1000)
    maria_ctx.set_offline(False)
    expect(first.get_by_role("log", name="Messages")).to_contain_text(missed, timeout=30000)
