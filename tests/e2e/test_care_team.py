"""Who is answering and staff-only notes, in real browsers: two providers of one care team and
the patient, each in their own browser context, none of them reloading.

The note test reads what the patient's tab receives at the protocol level: every websocket
frame from before sign-in on (the hydrate snapshot of the whole portal state, then each
delta), while a provider writes an internal note in the conversation the patient has open.
"""

from __future__ import annotations

import re
import sqlite3
import uuid

import pytest
from playwright.sync_api import expect

from care_messaging.services.conversations import create_conversation
from tests.browser import NOTIFY_DELAY_SECONDS, screenshot, sign_in
from tests.e2e.app_data import actor, app_session

pytestmark = pytest.mark.e2e

LEE, PATEL, MARIA = "jordan.lee@demo.care", "priya.patel@demo.care", "maria.garcia@demo.care"
NOTE_LABEL = "Internal note — not visible to the patient"


def _conversation(app_server, topic: str) -> int:
    """A new conversation Maria Garcia starts (her care team: Dr. Lee and Dr. Patel)."""
    with app_session(app_server) as s:
        conversation, _ = create_conversation(s, actor=actor(s, MARIA), patient_id=None,
                                              topic=topic, reason="Test",
                                              body="Could someone look at my refill?")
        s.commit()  # the caller's unit of work, before the app's own sessions read it
        return conversation.id


def _provider(new_context, email: str, conversation_id: int):
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/dashboard"))
    page.goto(f"/dashboard?c={conversation_id}")
    expect(page.get_by_role("log", name="Messages")).to_be_visible()
    return page


def _row(page, topic: str):
    return page.get_by_role("list", name="Conversations").get_by_role(
        "listitem").filter(has_text=topic)


def test_take_assign_release_live_on_colleague_and_patient_screens(new_context, app_server):
    topic = f"Refill question {uuid.uuid4().hex[:6]}"
    conversation_id = _conversation(app_server, topic)
    lee = _provider(new_context, LEE, conversation_id)
    patel = _provider(new_context, PATEL, conversation_id)
    maria = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(maria, MARIA)
    expect(maria).to_have_url(re.compile(r"/portal"))
    maria.goto(f"/portal?c={conversation_id}")
    expect(maria.get_by_role("log", name="Messages")).to_be_visible()
    expect(maria.get_by_test_id("handling")).to_have_count(0)  # nobody has taken it yet
    expect(patel.get_by_test_id("handling")).to_contain_text("Unassigned")

    lee.get_by_role("button", name="I'll take this").click()
    expect(lee.get_by_test_id("handling")).to_have_text("You are handling this")
    # Neither Patel nor Maria reloads.
    expect(patel.get_by_test_id("handling")).to_have_text("Dr. Jordan Lee is handling this")
    expect(_row(patel, topic)).to_contain_text("Dr. Jordan Lee")
    expect(maria.get_by_test_id("handling")).to_have_text("Dr. Jordan Lee is handling this")

    lee.get_by_label("Assign to").select_option(label="Dr. Priya Patel")
    expect(patel.get_by_test_id("handling")).to_have_text("You are handling this")
    expect(lee.get_by_test_id("handling")).to_have_text("Dr. Priya Patel is handling this")
    expect(maria.get_by_test_id("handling")).to_have_text("Dr. Priya Patel is handling this")
    screenshot(patel, "care-team-assigned-to-me")
    screenshot(maria, "care-team-patient-sees-handler")

    # The filters, beside All/Unread/Read.
    patel.get_by_role("tab", name="Assigned to me").click()
    expect(_row(patel, topic)).to_have_count(1)
    lee.get_by_role("tab", name="Assigned to me").click()
    expect(lee.get_by_test_id("list-count")).to_be_visible()
    expect(_row(lee, topic)).to_have_count(0)
    lee.get_by_role("tab", name="Unassigned").click()
    expect(_row(lee, topic)).to_have_count(0)
    expect(_row(lee, "").first).to_be_visible()  # the seeded unassigned conversations
    # Patel releases it: it joins Lee's "Unassigned" list live, and leaves Patel's own.
    patel.get_by_role("button", name="Release").click()
    expect(_row(lee, topic)).to_have_count(1)
    expect(_row(patel, topic)).to_have_count(0)
    expect(maria.get_by_test_id("handling")).to_have_count(0)
    screenshot(lee, "care-team-unassigned-filter")


def test_internal_note_never_reaches_the_patient(new_context, app_server, mail_server):
    token = uuid.uuid4().hex[:10].upper()
    note = f"ZEBRANOTE{token} possible interaction with warfarin"
    reply = f"VISIBLEREPLY{token}"
    topic = f"Medication check {token[:6]}"
    conversation_id = _conversation(app_server, topic)
    maria = new_context(viewport={"width": 1280, "height": 900}).new_page()
    frames: list[str] = []
    # Every frame the patient's tab receives, from its first connection on.
    maria.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    sign_in(maria, MARIA)
    expect(maria).to_have_url(re.compile(r"/portal"))
    maria.goto(f"/portal?c={conversation_id}")
    maria_log = maria.get_by_role("log", name="Messages")
    expect(maria_log).to_contain_text("Could someone look at my refill?")
    lee = _provider(new_context, LEE, conversation_id)
    patel = _provider(new_context, PATEL, conversation_id)

    lee.get_by_role("textbox", name="Internal note").fill(note)
    lee.get_by_role("button", name="Add note").click()
    mine = lee.get_by_test_id("internal-note").filter(has_text=note)
    expect(mine).to_be_visible()
    expect(mine).to_contain_text(NOTE_LABEL)
    # The colleague sees it live; the note is not a message of the thread.
    expect(patel.get_by_test_id("internal-note").filter(has_text=note)).to_be_visible()
    expect(patel.get_by_role("log", name="Messages")).not_to_contain_text(note)
    screenshot(lee, "care-team-internal-note")

    # A real reply right after: the patient's socket is live and recorded (the control).
    lee.get_by_role("textbox", name="Reply").fill(reply)
    lee.get_by_role("button", name="Send").click()
    expect(maria_log).to_contain_text(reply)
    maria.wait_for_timeout(1500)  # the follow-up deltas (list, header, receipts)
    # A fresh page load: the hydrate snapshot of the patient's whole state.
    maria.reload()
    expect(maria.get_by_role("log", name="Messages")).to_contain_text(reply)
    maria.goto("/portal")
    expect(maria.get_by_role("list", name="Conversations")).to_contain_text(topic)

    # Away from the thread, another reply leaves Maria an unread message: she is emailed.
    sent_before = len(mail_server.to(MARIA))
    lee.get_by_role("textbox", name="Reply").fill(f"Second reply {token}")
    lee.get_by_role("button", name="Send").click()
    expect(maria.get_by_role("list", name="Conversations")).to_contain_text(
        f"Second reply {token}")
    mail_server.wait_for(sent_before + 1, MARIA, timeout=NOTIFY_DELAY_SECONDS + 30)

    joined = "\n".join(frames)
    assert reply in joined, "the recorded frames miss the patient's own updates"
    assert "ZEBRANOTE" not in joined
    assert NOTE_LABEL not in joined and "warfarin" not in joined
    assert "ZEBRANOTE" not in maria.content()
    for received in mail_server.received:
        assert "ZEBRANOTE" not in received.subject + received.body
        assert "warfarin" not in received.body
    # Stored only as ciphertext.
    with sqlite3.connect(app_server.env["DATABASE_URL"].removeprefix("sqlite:///")) as db:
        stored = db.execute("select body_ct from internal_notes where conversation_id = ?",
                            (conversation_id,)).fetchall()
    assert len(stored) == 1 and b"ZEBRANOTE" not in stored[0][0]
