"""Care-team triage in the running app, each user in their own browser context:

- a patient writes "chest pain": the emergency line appears under their message at once, and
  the conversation shows as urgent with a red-flag mark at the top of the provider's list
  (live), never the patient's notice on the provider's side;
- a provider inserts a quick reply by typing /name (placeholders filled), edits it and sends;
- the response-times page for a clinic lead (and not for another provider).
"""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect
from sqlalchemy import update
from sqlmodel import select

from care_messaging.models import AuditEvent, Conversation, Provider, QuickReply
from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from care_messaging.services.message_views import list_messages
from care_messaging.services.red_flags import RED_FLAG_ACTION, SAFETY_NOTICE
from tests.browser import screenshot, sign_in
from tests.e2e.app_data import actor, app_session, patient_id

MARIA = "maria.garcia@demo.care"
LEE = "jordan.lee@demo.care"
PATEL = "priya.patel@demo.care"


def _maria_conversation(app_server, topic: str) -> int:
    with app_session(app_server) as s:
        conversation, _ = create_conversation(
            s, actor=actor(s, MARIA), patient_id=None, topic=topic, reason="Check-in",
            body="A question for my care team")
        s.commit()  # the caller's unit of work, before the app's own sessions read it
        return conversation.id


def test_red_flag_notice_for_the_patient_and_urgent_mark_on_top_for_the_team(
        new_context, app_server):
    topic = f"Feeling unwell {uuid.uuid4().hex[:6]}"
    cid = _maria_conversation(app_server, topic)
    provider = new_context().new_page()
    sign_in(provider, LEE)
    expect(provider).to_have_url(re.compile(r"/dashboard"))
    rows = provider.get_by_role("list", name="Conversations").get_by_role("listitem")
    expect(rows.first).to_be_visible()

    patient = new_context().new_page()
    sign_in(patient, MARIA)
    expect(patient).to_have_url(re.compile(r"/portal"))
    patient.goto(f"/portal?c={cid}")
    expect(patient.get_by_test_id("reply-promise")).to_have_text(
        "Your care team usually replies within 2 business days.")
    box = patient.get_by_role("textbox", name="Message")
    text = "Since last night I have Chest Pain when I climb stairs"
    box.fill(text)
    box.press("Enter")
    mine = patient.get_by_role("log", name="Messages").get_by_role("article").filter(
        has_text=text)
    expect(mine.get_by_role("alert")).to_have_text(SAFETY_NOTICE, timeout=15_000)
    # An ordinary message gets no notice.
    box.fill("Also, can I move my appointment?")
    box.press("Enter")
    calm = patient.get_by_role("log", name="Messages").get_by_role("article").filter(
        has_text="Also, can I move my appointment?")
    expect(calm.locator(".message-status")).to_be_visible(timeout=15_000)
    expect(calm.get_by_role("alert")).to_have_count(0)
    screenshot(patient, "triage-red-flag-patient")

    # The provider's list (live): the conversation on top, marked urgent.
    first = rows.first
    expect(first).to_contain_text(topic, timeout=15_000)
    expect(first.get_by_test_id("red-flag-mark")).to_have_text("Urgent: red flag")
    first.get_by_role("link", name=topic).click()
    expect(provider.get_by_test_id("thread-red-flag")).to_be_visible()
    expect(provider.locator("#priority")).to_have_value("urgent")
    theirs = provider.get_by_role("log", name="Messages").get_by_role("article").filter(
        has_text=text)
    expect(theirs).to_be_visible()
    expect(theirs.get_by_role("alert")).to_have_count(0)  # the patient's notice only
    screenshot(provider, "triage-red-flag-provider")

    with app_session(app_server) as s:
        row = s.get(Conversation, cid)
        assert row.priority == "urgent" and row.red_flag_at is not None
        audited = s.exec(select(AuditEvent).where(AuditEvent.action == RED_FLAG_ACTION,
                                                  AuditEvent.object_id == str(cid))).all()
        assert len(audited) == 1 and "chest" not in audited[0].detail.lower()
        # Answered: the raise ends (other tests expect the newest conversation on top).
        send_message(s, actor=actor(s, LEE), conversation_id=cid, body="Please call 911 now.",
                     client_msg_id=uuid.uuid4().hex)
        s.commit()  # the triage consumer runs on the commit
        s.expire_all()
        assert s.get(Conversation, cid).attention == 0


def test_quick_reply_by_slash_name_is_filled_editable_and_sent(new_context, app_server):
    cid = _maria_conversation(app_server, f"Refill {uuid.uuid4().hex[:6]}")
    name = f"refill{uuid.uuid4().hex[:4]}"
    with app_session(app_server) as s:
        lee = actor(s, LEE)
        s.add(QuickReply(owner_user_id=lee.user_id, name=name,
                         body="Hi {patient_first_name}, your refill is on its way. "
                              "- {provider_name}"))
        s.commit()
    page = new_context().new_page()
    sign_in(page, LEE)
    expect(page).to_have_url(re.compile(r"/dashboard"))
    page.goto(f"/dashboard?c={cid}")
    box = page.get_by_role("textbox", name="Reply")
    expect(box).to_be_visible()
    expect(page.get_by_test_id("quick-replies")).to_be_visible()
    box.click()
    box.type(f"/{name}")
    box.press("Tab")
    filled = "Hi Maria, your refill is on its way. - Dr. Jordan Lee"
    expect(box).to_have_value(filled)
    box.press("End")
    box.type(" Take it with food.")
    box.press("Enter")
    sent = page.get_by_role("log", name="Messages").get_by_role("article").filter(
        has_text=filled + " Take it with food.")
    expect(sent.locator(".message-status")).to_be_visible(timeout=15_000)
    # From the menu as well: into an empty box.
    page.get_by_text("Quick replies (or type / and a name)").click()
    page.get_by_role("button", name=f"Insert quick reply {name}").click()
    expect(box).to_have_value(filled)
    with app_session(app_server) as s:
        texts = [m.body for m in list_messages(s, conversation_id=cid)]
        assert texts[-1] == filled + " Take it with food."


def test_response_times_page_for_a_clinic_lead_only(new_context, app_server):
    with app_session(app_server) as s:
        lee = actor(s, LEE)
        s.execute(update(Provider).where(Provider.id == lee.provider_id).values(is_lead=True))
        s.commit()
        assert patient_id(s, MARIA)
    page = new_context().new_page()
    sign_in(page, LEE)
    expect(page).to_have_url(re.compile(r"/dashboard"))
    page.goto("/response-times")
    expect(page.get_by_role("heading", name="Response times")).to_be_visible()
    expect(page.get_by_test_id("overdue-now")).to_have_text(re.compile(r"^\d+$"))
    expect(page.get_by_test_id("weekly-chart").get_by_role("img")).to_have_count(8)
    expect(page.get_by_role("columnheader", name="Provider", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="Dr. Jordan Lee", exact=True)).to_be_visible()
    screenshot(page, "triage-response-times")
    other = new_context().new_page()
    sign_in(other, PATEL)
    expect(other).to_have_url(re.compile(r"/dashboard"))
    other.goto("/response-times")
    expect(other.get_by_text("This page is for clinic leads.")).to_be_visible()
    expect(other.get_by_test_id("weekly-chart")).to_have_count(0)
