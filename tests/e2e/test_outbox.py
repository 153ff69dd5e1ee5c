"""The tab's outbox on a shared workstation and under the user's hands: what sign-out leaves,
Delete and Retry on a message that has not gone yet, and the order things are sent in."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in
from tests.e2e.test_realtime import _conversation_of, _db

pytestmark = pytest.mark.e2e

OUTBOX_KEYS = ("() => Object.keys(sessionStorage).filter((k) => k.startsWith('care-outbox:'))")


def _message_count(app_server) -> int:
    with _db(app_server) as db:
        return db.execute("select count(*) from messages").fetchone()[0]


def _lee_on(new_context, conversation_id: int):
    context = new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, "jordan.lee@demo.care")
    expect(page).to_have_url(re.compile(r"/dashboard"))
    page.goto(f"/dashboard?c={conversation_id}")
    expect(page.get_by_role("textbox", name="Reply")).to_be_visible()
    return context, page


def test_sign_out_asks_about_unsent_messages_and_leaves_none_in_the_tab(new_context, app_server):
    conversation_id, _ = _conversation_of(app_server)
    context, lee = _lee_on(new_context, conversation_id)
    before = _message_count(app_server)
    context.set_offline(True)
    lee.wait_for_timeout(1000)
    text = f"Unsent at sign-out {uuid.uuid4().hex[:6]}"
    box = lee.get_by_role("textbox", name="Reply")
    box.fill(text)
    box.press("Enter")
    expect(lee.locator(".outbox-bubble")).to_have_count(1)
    assert lee.evaluate(OUTBOX_KEYS)
    asked: list[str] = []

    def answer(dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss() if len(asked) == 1 else dialog.accept()

    lee.on("dialog", answer)
    lee.get_by_role("button", name="Sign out").click()
    # First answer "no": nothing changes, the message is still there.
    expect(lee.locator(".outbox-bubble")).to_have_count(1)
    assert "1 message(s) not sent yet" in asked[0]
    assert lee.evaluate(OUTBOX_KEYS)
    # Then "yes": the tab keeps nothing of it. The sign-out request itself fails offline, so
    # the provider is still signed in when the line is back: had the outbox kept the message,
    # opening the thread again would send it now.
    lee.get_by_role("button", name="Sign out").click()
    lee.wait_for_timeout(500)
    assert len(asked) == 2
    context.set_offline(False)
    lee.goto(f"/dashboard?c={conversation_id}")
    expect(lee.get_by_role("log", name="Messages")).to_be_visible()
    lee.wait_for_timeout(2000)
    assert lee.evaluate(OUTBOX_KEYS) == []
    expect(lee.get_by_role("log", name="Messages").get_by_text(text)).to_have_count(0)
    assert _message_count(app_server) == before


def test_delete_and_retry_on_messages_not_sent_yet(new_context, app_server):
    conversation_id, _ = _conversation_of(app_server)
    context, lee = _lee_on(new_context, conversation_id)
    context.set_offline(True)
    lee.wait_for_timeout(1000)
    tag = uuid.uuid4().hex[:6]
    texts = [f"first {tag}", f"second {tag}", f"third {tag}"]
    box = lee.get_by_role("textbox", name="Reply")
    for text in texts:
        box.fill(text)
        box.press("Enter")
    bubbles = lee.locator(".outbox-bubble")
    expect(bubbles).to_have_count(3)
    # In the order typed, each saying why it has not gone, each with Retry and Delete.
    expect(bubbles).to_have_text([re.compile(t) for t in texts])
    expect(bubbles.first).to_contain_text("Not sent yet — will send when the connection is back")
    second = bubbles.filter(has_text=texts[1])
    second.get_by_role("button", name="Delete message").click()
    expect(bubbles).to_have_count(2)
    expect(bubbles.first.get_by_role("button", name="Retry message")).to_be_visible()
    # The outbox keeps trying on its own (every 5 s while the socket still counts as up, and
    # right after the delete): the bubbles keep saying so, Retry and Delete stay (they once
    # flipped back to "Sending…" on each automatic resend and vanished for 4 s).
    for _ in range(4):
        lee.wait_for_timeout(1500)
        for bubble in bubbles.all():
            assert "Not sent yet" in bubble.inner_text()
            expect(bubble.get_by_role("button", name="Retry message")).to_be_visible(timeout=100)
    context.set_offline(False)
    log = lee.get_by_role("log", name="Messages")
    expect(log.locator(".message-body").filter(has_text=texts[2])).to_have_count(1,
                                                                                timeout=30000)
    expect(bubbles).to_have_count(0)
    bodies = [b for b in log.locator(".message-body").all_inner_texts() if tag in b]
    assert bodies == [texts[0], texts[2]]  # the deleted one never went; order kept
    lee.reload()
    expect(log.locator(".message-body").filter(has_text=tag)).to_have_text([texts[0], texts[2]])


def test_a_message_the_server_refuses_says_why_and_keeps_the_text(new_context, app_server):
    """Maria writes into a conversation her care team completes meanwhile: the refusal names
    the reason on her message, which keeps its text, and Delete removes it."""
    with _db(app_server) as db:
        conversation_id = db.execute(
            "select c.id from conversations c join patients p on p.id = c.patient_id "
            "where p.mrn = 'P-100200' and c.status != 'completed' order by c.id desc limit 1"
        ).fetchone()[0]
    context = new_context(viewport={"width": 390, "height": 844})
    maria = context.new_page()
    sign_in(maria, "maria.garcia@demo.care")
    expect(maria).to_have_url(re.compile(r"/portal"))
    maria.goto(f"/portal?c={conversation_id}")
    box = maria.get_by_role("textbox", name="Message")
    expect(box).to_be_visible()
    _lee_context, lee = _lee_on(new_context, conversation_id)
    context.set_offline(True)
    maria.wait_for_timeout(1000)
    text = f"One more question {uuid.uuid4().hex[:6]}"
    box.fill(text)
    box.press("Enter")
    lee.get_by_label("Status").select_option("completed")
    lee.wait_for_timeout(1000)
    context.set_offline(False)
    bubble = maria.locator(".outbox-bubble")
    expect(bubble).to_contain_text("completed", timeout=30000)
    expect(bubble).to_contain_text(text)
    bubble.get_by_role("button", name="Delete message").click()
    expect(bubble).to_have_count(0)
    lee.get_by_label("Status").select_option("active")
