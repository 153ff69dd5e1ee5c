"""Issue 17 item 9: search the messages themselves; a result opens its thread scrolled to the
message and highlighted (provider on a desktop, patient on a phone)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from tests.browser import PHONE, screenshot, sign_in
from tests.e2e.app_data import actor, app_session, patient_id

pytestmark = pytest.mark.e2e
LEE, MARIA, JAMES = "jordan.lee@demo.care", "maria.garcia@demo.care", "james.smith@demo.care"


@pytest.fixture(scope="module")
def needle(app_server) -> dict:
    """A word only one old message holds, 60 messages back in a long thread."""
    word = f"zebra{uuid.uuid4().hex[:6]}"
    topic = f"Search check {word[-6:]}"
    with app_session(app_server) as s:
        lee, maria = actor(s, LEE), actor(s, MARIA)
        c, _ = create_conversation(s, reason="Test follow-up", actor=lee, patient_id=patient_id(s, MARIA), topic=topic,
                                   body="Let us keep a log here.")
        s.commit()
        send_message(s, actor=maria, conversation_id=c.id, client_msg_id=f"{word}-0",
                     body=f"My neighbour's {word} pattern rash came back on the arm.")
        s.commit()
        for n in range(60):
            send_message(s, actor=maria if n % 2 else lee, conversation_id=c.id,
                         body=f"Follow-up {n}", client_msg_id=f"{word}-{n + 1}")
            s.commit()
        return {"word": word, "topic": topic, "id": c.id}


def test_provider_finds_a_message_and_opens_it_highlighted(new_context, needle):
    page = new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(page, LEE)
    expect(page).to_have_url(re.compile(r"/dashboard/?$"))
    page.get_by_role("link", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="Search messages")).to_be_visible()
    page.get_by_role("searchbox", name="Search messages").fill(needle["word"])
    page.get_by_role("button", name="Search", exact=True).click()
    results = page.get_by_role("list", name="Search results").get_by_role("listitem")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(needle["topic"])
    expect(results.first).to_contain_text("Maria Garcia")
    expect(results.first).to_contain_text("rash came back")
    screenshot(page, "search-provider-results")
    results.first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/dashboard\?c={needle['id']}&m=2$"))
    found = page.get_by_role("log", name="Messages").locator("[data-found='true']")
    expect(found).to_have_count(1)
    expect(found).to_contain_text(needle["word"])
    expect(found).to_be_in_viewport()
    screenshot(page, "search-provider-thread-highlighted")


def test_patient_searches_on_a_phone_and_others_find_nothing(new_context, needle):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_in(page, MARIA)
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    page.goto(f"/search?q={needle['word']}")
    results = page.get_by_role("list", name="Search results").get_by_role("listitem")
    expect(results).to_have_count(1)
    screenshot(page, "search-patient-results-phone")
    results.first.get_by_role("link").click()
    found = page.get_by_role("log", name="Messages").locator("[data-found='true']")
    expect(found).to_contain_text(needle["word"])
    expect(found).to_be_in_viewport()
    screenshot(page, "search-patient-thread-phone")

    # Another patient: no result, and the forged address opens nothing.
    other = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_in(other, JAMES)
    expect(other).to_have_url(re.compile(r"/portal/?$"))
    other.goto(f"/search?q={needle['word']}")
    expect(other.get_by_role("status").filter(has_text="found")).to_contain_text("0 messages")
    other.goto(f"/portal?c={needle['id']}&m=2")
    expect(other.get_by_role("alert")).to_contain_text("Conversation not found.")
    expect(other.get_by_text(needle["word"])).to_have_count(0)
