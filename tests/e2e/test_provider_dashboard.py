"""Provider journeys on the seeded demo clinic, checked against the database via the services."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from care_messaging.db import make_engine
from care_messaging.models import Conversation, User
from care_messaging.services import conversation_list, stats
from care_messaging.services.actors import actor_for_user
from tests.browser import PHONE, screenshot, sign_in

pytestmark = pytest.mark.e2e

LEE, PATEL, NOVAK = "jordan.lee@demo.care", "priya.patel@demo.care", "casey.novak@demo.care"


class Db:
    def __init__(self, url: str):
        self.engine = make_engine(url)

    def actor(self, email: str):
        with Session(self.engine) as s:
            return actor_for_user(s, s.exec(select(User).where(User.email == email)).one())

    def stats(self, email: str):
        with Session(self.engine) as s:
            return stats.dashboard_counts(s, actor=self.actor(email))

    def total(self, email: str, **kw) -> int:
        # Previews cannot be decrypted with this process's key; only the total is used.
        logging.getLogger("care_messaging.crypto").disabled = True
        with Session(self.engine) as s:
            return conversation_list.list_conversations(s, actor=self.actor(email), **kw).total

    def conversation(self, topic: str) -> Conversation | None:
        with Session(self.engine) as s:
            return s.exec(select(Conversation).where(Conversation.topic == topic)).first()

    def get(self, conversation_id: int) -> Conversation:
        with Session(self.engine) as s:
            return s.get(Conversation, conversation_id)


@pytest.fixture(scope="module")
def db(app_server) -> Db:
    return Db(app_server.env["DATABASE_URL"])


def open_dashboard(new_context, email: str, **ctx) -> Page:
    page = new_context(**ctx).new_page()
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/dashboard/?$"))
    # The live list (the rows served with the page are plain links until it replaces them).
    expect(page.get_by_test_id("list-count")).to_be_visible()
    expect(page.get_by_test_id("conversation-row").first).to_be_visible()
    return page


def list_count(page: Page) -> str:
    return page.get_by_test_id("list-count").inner_text()


def expect_stats(page: Page, s) -> None:
    expect(page.get_by_test_id("stat-Total conversations")).to_have_text(str(s.total_conversations))
    expect(page.get_by_test_id("stat-Unread messages")).to_have_text(str(s.unread_messages))
    expect(page.get_by_test_id("stat-Patients")).to_have_text(str(s.unique_patients))
    expect(page.get_by_test_id("stat-Total messages")).to_have_text(str(s.total_messages))


def nav_badge(page: Page):
    return page.get_by_role("navigation", name="Main")


def test_list_counts_filters_search_open_reply_status(new_context, db):
    page = open_dashboard(new_context, LEE)
    s = db.stats(LEE)
    assert s.total_conversations > 0 and s.unread_messages > 0
    expect_stats(page, s)
    expect(page.get_by_test_id("list-count")).to_have_text(
        re.compile(rf"of {s.total_conversations} conversations"))
    expect(nav_badge(page).get_by_text(str(s.unread_messages), exact=True)).to_be_visible()

    # Filters and search combine; totals match the service.
    page.get_by_role("tab", name="Unread", exact=True).click()
    unread_total = db.total(LEE, filter_by="unread")
    expect(page.get_by_test_id("list-count")).to_have_text(re.compile(rf"of {unread_total} "))
    assert page.get_by_test_id("conversation-row").count() == min(unread_total, 30)
    expect(page.locator(".unread-dot")).to_have_count(min(unread_total, 30))
    page.get_by_role("tab", name="Read", exact=True).click()
    read_total = db.total(LEE, filter_by="read")
    expect(page.get_by_test_id("list-count")).to_have_text(re.compile(rf"of {read_total} "))
    expect(page.locator(".unread-dot")).to_have_count(0)
    page.get_by_role("tab", name="All", exact=True).click()
    search = page.get_by_label("Search conversations")
    search.fill("Garcia")
    garcia = db.total(LEE, search="Garcia")
    expect(page.get_by_test_id("list-count")).to_have_text(re.compile(rf"of {garcia} "))
    for text in page.get_by_test_id("conversation-row").all_inner_texts():
        assert "Maria Garcia" in text
    search.fill("P-100200")
    expect(page.get_by_test_id("list-count")).to_have_text(re.compile(rf"of {garcia} "))
    page.get_by_role("tab", name="Unread", exact=True).click()
    both = db.total(LEE, search="P-100200", filter_by="unread")
    expect(page.get_by_test_id("list-count")).to_have_text(re.compile(rf"of {both} "))
    search.fill("zzz no such topic")
    expect(page.get_by_text("No conversations match")).to_be_visible()
    search.fill("")
    expect(page.get_by_text("No conversations match")).to_have_count(0)

    # Open the newest unread conversation: its dot and the nav count drop.
    row = page.get_by_test_id("conversation-row").filter(has=page.locator(".unread-dot")).first
    topic_link = row.locator(".conversation-link")
    topic = topic_link.inner_text()
    unread_in_row = int(re.search(r"(\d+) unread", row.inner_text()).group(1))
    topic_link.click()
    expect(page).to_have_url(re.compile(r"/dashboard\?c=\d+"))
    cid = int(page.url.split("c=")[1])
    expect(page.get_by_role("heading", name=topic, level=2)).to_be_visible()
    after = s.unread_messages - unread_in_row
    expect(page.get_by_test_id("stat-Unread messages")).to_have_text(str(after))
    assert db.stats(LEE).unread_messages == after
    selected = page.locator("[data-testid=conversation-row][aria-current=true]")
    expect(selected.locator(".unread-dot")).to_have_count(0)
    if after:
        expect(nav_badge(page).get_by_text(str(after), exact=True)).to_be_visible()

    # Reply with Enter: shown as "You" with a timestamp.
    body = f"E2E reply {uuid.uuid4().hex[:6]}"
    page.get_by_label("Reply", exact=True).fill(body)
    page.get_by_label("Reply", exact=True).press("Enter")
    message = page.get_by_test_id("message").filter(has_text=body)
    expect(message).to_be_visible()
    expect(message.locator(".message-sender")).to_have_text("You")
    # In the browser's own zone and locale (en-US here: "9:40 PM"), never "UTC".
    expect(message.locator(".message-time")).to_have_text(re.compile(r"^\d{1,2}:\d\d [AP]M$"))
    expect(page.get_by_label("Reply", exact=True)).to_have_value("")

    # Status from the thread header.
    page.get_by_label("Status").select_option(label="Needs attention")
    expect(page.get_by_label("Status")).to_have_value("needs_attention")
    page.wait_for_timeout(500)
    assert db.get(cid).status == "needs_attention"
    page.get_by_label("Priority").select_option(label="Urgent")
    page.wait_for_timeout(500)
    assert db.get(cid).priority == "urgent"
    screenshot(page, "provider-dashboard-desktop")


def test_new_message_dialog_and_shared_visibility(new_context, db):
    page = open_dashboard(new_context, LEE)
    page.get_by_role("button", name="New Message").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Send Message").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Choose a patient")
    dialog.get_by_label("Find patient").fill("Garcia")
    matches = dialog.get_by_role("list", name="Matching patients").get_by_role("button")
    expect(matches).to_have_count(1)
    matches.click()
    dialog.get_by_role("button", name="Send Message").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Enter a topic")
    topic = f"E2E check-in {uuid.uuid4().hex[:6]}"
    dialog.get_by_label("Topic").fill(topic)
    dialog.get_by_label("Category").select_option(label="Medication")
    dialog.get_by_label("Reason").fill("Weekly check-in")
    dialog.get_by_role("button", name="Send Message").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Write the first message")
    assert db.conversation(topic) is None
    dialog.get_by_label("Message").fill("How are you feeling this week?")
    dialog.get_by_role("button", name="Send Message").click()
    expect(page).to_have_url(re.compile(r"/dashboard\?c=\d+"))
    expect(page.get_by_role("heading", name=topic, level=2)).to_be_visible()
    created = db.conversation(topic)
    assert created is not None and created.category == "medication"
    # A colleague on the same team sees it; Lee's reply arrives live in the open thread.
    patel = open_dashboard(new_context, PATEL)
    patel.get_by_label("Search conversations").fill(topic)
    expect(patel.get_by_test_id("list-count")).to_have_text(re.compile(r"^1 of 1 "))
    patel.get_by_test_id("conversation-row").locator(".conversation-link").click()
    expect(patel.get_by_role("heading", name=topic, level=2)).to_be_visible()
    first = patel.get_by_test_id("message").filter(has_text="How are you feeling this week?")
    expect(first.locator(".message-sender")).to_have_text("Dr. Jordan Lee")

    reply = f"Follow-up {uuid.uuid4().hex[:6]}"
    page.get_by_label("Reply", exact=True).fill(reply)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_test_id("message").filter(has_text=reply)).to_be_visible()
    live = patel.get_by_test_id("message").filter(has_text=reply)
    expect(live.locator(".message-sender")).to_have_text("Dr. Jordan Lee")
    screenshot(patel, "provider-dashboard-colleague-live")

    # The outside provider sees nothing: not in list, search, counts, nor by URL.
    novak = open_dashboard(new_context, NOVAK)
    ns = db.stats(NOVAK)
    expect_stats(novak, ns)
    expect(novak.get_by_text(topic)).to_have_count(0)
    novak.get_by_label("Search conversations").fill(topic)
    expect(novak.get_by_text("No conversations match")).to_be_visible()
    novak.get_by_label("Search conversations").fill("Garcia")
    expect(novak.get_by_text("No conversations match")).to_be_visible()
    novak.goto(f"/dashboard?c={created.id}")
    expect(novak.get_by_role("alert")).to_have_text("Conversation not found.")
    expect(novak.get_by_text(reply)).to_have_count(0)
    novak.goto("/dashboard?c=99999999")
    expect(novak.get_by_role("alert")).to_have_text("Conversation not found.")
    novak.goto(f"/patients?id={created.patient_id}")
    expect(novak.get_by_role("alert")).to_have_text("Patient not found.")


def test_profile_page_open_and_start_conversation(new_context, db):
    page = open_dashboard(new_context, LEE)
    page.get_by_label("Search conversations").fill("P-100200")
    expect(page.get_by_test_id("list-count")).to_have_text(re.compile(r"of [1-9]"))
    page.get_by_role("link", name="Profile of Maria Garcia").first.click()
    expect(page).to_have_url(re.compile(r"/patients\?id=\d+"))
    maria_id = int(page.url.split("id=")[1])
    expect(page.get_by_role("heading", name="Maria Garcia", level=1)).to_be_visible()
    expect(page.get_by_text("P-100200")).to_be_visible()
    expect(page.get_by_text("Date of birth")).to_be_visible()
    screenshot(page, "provider-patient-profile")
    rows = page.get_by_role("list", name="Patient conversations").get_by_role("listitem")
    assert rows.count() == db.total(LEE, search="P-100200")
    first_topic = rows.first.get_by_role("link").inner_text()
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name=first_topic, level=2)).to_be_visible()
    page.go_back()
    page.get_by_role("link", name="New Message").click()
    dialog = page.get_by_role("dialog")
    # Chosen on purpose on the profile page: that patient, named with ID and date of birth.
    chosen = dialog.get_by_role("group", name="Chosen patient")
    expect(chosen).to_contain_text("Maria Garcia")
    expect(chosen).to_contain_text(re.compile(r"ID P-100200 · Born \w{3} \d{1,2}, \d{4}"))
    topic = f"From profile {uuid.uuid4().hex[:6]}"
    dialog.get_by_label("Topic").fill(topic)
    dialog.get_by_label("Category").select_option(label="Check-in")
    dialog.get_by_label("Reason").fill("After your visit")
    dialog.get_by_label("Message").fill("Started from the profile page")
    dialog.get_by_role("button", name="Send Message").click()
    expect(page.get_by_role("heading", name=topic, level=2)).to_be_visible()
    assert db.conversation(topic).patient_id == maria_id


def test_mobile_toggle(new_context, db):
    page = open_dashboard(new_context, LEE, viewport=PHONE)
    rows = page.get_by_test_id("conversation-row")
    expect(rows.first).to_be_visible()
    screenshot(page, "provider-dashboard-mobile-list")
    topic = rows.first.locator(".conversation-link").inner_text()
    rows.first.locator(".conversation-link").click()
    expect(page.get_by_role("heading", name=topic, level=2)).to_be_visible()
    expect(rows.first).to_be_hidden()
    expect(page.get_by_label("Reply", exact=True)).to_be_visible()
    screenshot(page, "provider-dashboard-mobile-thread")
    page.get_by_role("button", name="Back").click()
    expect(rows.first).to_be_visible()
    expect(page.get_by_role("heading", name=topic, level=2)).to_have_count(0)


# The structure of a row as a user and a screen reader meet it: every element's tag, classes,
# role, labels, link and text, in document order. A <time> is compared by its instant: its
# text is written in the browser by assets/local_time.js, which the scriptless copy lacks
# (tests/e2e/test_local_times.py checks that both read the same when it runs).
DESCRIBE_ROW = """(row) => [...row.querySelectorAll('*')].concat([row]).map((el) => [
  el.tagName, el.className, el.getAttribute('role'), el.getAttribute('aria-label'),
  el.getAttribute('aria-current'), el.getAttribute('aria-hidden'), el.getAttribute('href'),
  el.hasAttribute('data-in-app'), el.getAttribute('datetime'),
  el.getAttribute('data-local-time'),
  el.children.length || el.tagName === 'TIME' ? '' : el.textContent])"""


def test_first_rows_come_with_the_page_and_match_the_live_list(new_context):
    """The dashboard's HTML carries the provider's first rows (shown before the app has
    booted); the live list then replaces them with the same rows, element for element."""
    context = new_context()
    page = context.new_page()
    sign_in(page, LEE)
    expect(page.get_by_test_id("list-count")).to_be_visible()
    response = page.request.get("/dashboard")
    assert response.headers["cache-control"] == "no-store"  # it carries PHI now
    served = response.text()
    assert served.count('data-testid="conversation-row"') == 30
    # Signed out, the same address carries no rows.
    assert 'data-testid="conversation-row"' not in new_context().request.get("/dashboard").text()

    # As the browser first shows the page: scripts blocked, only the served HTML.
    static = new_context(java_script_enabled=False)
    static.add_cookies(context.cookies())
    first = static.new_page()
    first.goto("/dashboard")
    served_rows = first.get_by_role("listitem").filter(has=first.locator(".conversation-link"))
    expect(served_rows).to_have_count(30)
    expect(first.get_by_role("list", name="Conversations")).to_have_attribute("aria-busy", "true")
    expect(first.get_by_test_id("stat-Unread messages")).to_have_text("—")  # not a false 0

    live_rows = page.locator("[role=list]:not([aria-busy]) [data-testid=conversation-row]")
    expect(live_rows).to_have_count(30)
    expect(page.locator("[aria-busy] [data-testid=conversation-row]")).to_have_count(0)
    for i in (0, 1, 29):
        assert first.evaluate(DESCRIBE_ROW, served_rows.nth(i).element_handle()) == \
            page.evaluate(DESCRIBE_ROW, live_rows.nth(i).element_handle())
    # A served row is a working link even before the app boots.
    served_rows.nth(1).locator(".conversation-link").click()
    expect(first).to_have_url(re.compile(r"/dashboard\?c=\d+$"))
    expect(first.locator("[aria-current=true]")).to_have_count(1)


def test_row_links_navigate_in_place_and_modified_clicks_open_a_new_tab(new_context):
    page = open_dashboard(new_context, LEE)
    row = page.locator("[role=list]:not([aria-busy]) [data-testid=conversation-row]").nth(2)
    profile = row.get_by_role("link", name=re.compile(r"^Profile of "))
    # Ctrl+click: a new tab with the profile; this page stays where it was.
    with page.context.expect_page() as opened:
        profile.click(modifiers=["Control"])
    new_tab = opened.value
    new_tab.wait_for_load_state()
    assert re.search(r"/patients/?\?id=\d+$", new_tab.url), new_tab.url
    expect(page).to_have_url(re.compile(r"/dashboard/?$"))
    # A plain click navigates inside the app (no page load: a marker on window survives).
    page.evaluate("window.__same_document = true")
    row.locator(".conversation-link").click()
    expect(page).to_have_url(re.compile(r"/dashboard\?c=\d+$"))
    expect(page.get_by_role("log", name="Messages")).to_be_visible()
    assert page.evaluate("window.__same_document") is True



def test_older_messages_load_as_the_provider_scrolls_up(new_context, long_thread):
    conversation_id, total = long_thread
    page = open_dashboard(new_context, LEE)
    page.goto(f"/dashboard?c={conversation_id}")
    log = page.get_by_role("log", name="Messages")
    messages = log.get_by_test_id("message")
    expect(messages).to_have_count(30)
    older = log.get_by_role("button", name="Load older messages")
    expect(older).to_be_attached()
    expect(log.get_by_text("Start of conversation")).to_have_count(0)
    # Scroll up as a reader does; nothing is clicked: the next page arrives because the top of
    # the thread came into view, and only that page (the reader keeps their place).
    for shown in (60, total):
        oldest_shown = messages.first.locator(".message-body").inner_text()
        # To the top at once, as dragging the scroll bar does (a wheel scroll goes on moving
        # for a while, and may well reach the next page's button too).
        log.evaluate("log => { log.scrollTop = -log.scrollHeight; }")
        expect(messages).to_have_count(shown)
        page.wait_for_timeout(800)  # long enough for a second page, were one to follow
        expect(messages).to_have_count(shown)
        # The message that was at the top is still in view: the page went above it.
        expect(messages.filter(has_text=oldest_shown)).to_be_in_viewport()
    expect(log.get_by_text("Start of conversation")).to_be_visible()
    expect(older).to_have_count(0)
    expect(log).to_have_attribute("aria-busy", "false")
    screenshot(page, "provider-thread-start-of-conversation")

