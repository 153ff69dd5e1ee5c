"""Issue 17 item 4: every time in the reader's own time zone and locale, as messengers show it.

The browser is in New York (never UTC here). A conversation with messages 40 days ago,
yesterday and now, read 40 days ago, shows "Oct 21, 9:40 PM"-style dates, "Yesterday, …" and a
bare time for today; the receipt carries its date. en-US reads 12-hour, en-GB 24-hour. The rows
the server writes into the dashboard's HTML read exactly like the live list that replaces them.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from tests.browser import PHONE, screenshot, sign_in
from tests.e2e.app_data import actor, app_session, patient_id

pytestmark = pytest.mark.e2e

LEE, MARIA = "jordan.lee@demo.care", "maria.garcia@demo.care"
NEW_YORK = "America/New_York"
ZONE = ZoneInfo(NEW_YORK)


def clock(at: datetime, locale: str) -> str:
    local = at.astimezone(ZONE)
    if locale == "en-GB":
        return local.strftime("%H:%M")
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def day(at: datetime, locale: str, now: datetime) -> str:
    local = at.astimezone(ZONE)
    text_ = (f"{local.day} {local:%b}" if locale == "en-GB" else f"{local:%b} {local.day}")
    if local.year != now.astimezone(ZONE).year:
        text_ += f" {local.year}" if locale == "en-GB" else f", {local.year}"
    return text_


def days_ago(at: datetime, now: datetime) -> int:
    return (now.astimezone(ZONE).date() - at.astimezone(ZONE).date()).days


def bubble(at: datetime, locale: str, now: datetime) -> str:
    """What assets/local_time.js writes for a message (the ``bubble`` and ``receipt`` styles)."""
    ago = days_ago(at, now)
    if ago == 0:
        return clock(at, locale)
    if ago == 1:
        return f"Yesterday, {clock(at, locale)}"
    return f"{day(at, locale, now)}, {clock(at, locale)}"


def listed(at: datetime, locale: str, now: datetime) -> str:
    """The ``list`` style: a time today, "Yesterday", a weekday this week, else a date."""
    ago = days_ago(at, now)
    if ago == 0:
        return clock(at, locale)
    if ago == 1:
        return "Yesterday"
    if ago < 7:
        return f"{at.astimezone(ZONE):%a}"
    return day(at, locale, now)


def squash(value: str) -> str:
    # ICU puts a narrow no-break space before AM/PM.
    return re.sub(r"\s+", " ", value).strip()


@pytest.fixture(scope="module")
def timed_thread(app_server) -> dict:
    """Lee's conversation with Maria: his messages 40 days ago, yesterday and just now; Maria
    read them all 40 days ago (only the receipt's date matters here)."""
    now = datetime.now(UTC).replace(microsecond=0)
    times = [now - timedelta(days=40), now - timedelta(days=1), now - timedelta(minutes=1)]
    read_at = now - timedelta(days=40) + timedelta(minutes=5)
    topic = f"Time zone check {uuid.uuid4().hex[:6]}"
    with app_session(app_server) as s:
        lee = actor(s, LEE)
        conversation, first = create_conversation(
            s, reason="Test follow-up", actor=lee, patient_id=patient_id(s, MARIA), topic=topic, body="Forty days ago")
        s.commit()
        ids = [first.message.id]
        for n, body in enumerate(["Yesterday's note", "A note from just now"], start=2):
            ids.append(send_message(s, actor=lee, conversation_id=conversation.id, body=body,
                                    client_msg_id=f"tz-{topic}-{n}").message.id)
            s.commit()
        for message_id, at in zip(ids, times, strict=True):
            s.execute(text("UPDATE messages SET created_at = :at WHERE id = :id"),
                      {"at": at.replace(tzinfo=None), "id": message_id})
        s.execute(text("UPDATE conversations SET last_message_at = :at WHERE id = :id"),
                  {"at": times[-1].replace(tzinfo=None), "id": conversation.id})
        maria = actor(s, MARIA)
        s.execute(text(
            "INSERT INTO read_states (user_id, conversation_id, last_read_seq, "
            "last_delivered_seq, read_at, delivered_at) VALUES (:u, :c, 3, 3, :at, :at) "
            "ON CONFLICT (user_id, conversation_id) DO UPDATE SET last_read_seq = 3, "
            "last_delivered_seq = 3, read_at = :at, delivered_at = :at"),
            {"u": maria.user_id, "c": conversation.id, "at": read_at.replace(tzinfo=None)})
        s.commit()
        return {"id": conversation.id, "topic": topic, "times": times, "read_at": read_at,
                "now": now}


def _open_thread(new_context, timed_thread, **ctx) -> Page:
    page = new_context(timezone_id=NEW_YORK, **ctx).new_page()
    sign_in(page, LEE)
    expect(page).to_have_url(re.compile(r"/dashboard/?$"))
    page.goto(f"/dashboard?c={timed_thread['id']}")
    expect(page.get_by_role("heading", name=timed_thread["topic"])).to_be_visible()
    return page


@pytest.mark.parametrize("locale", ["en-US", "en-GB"])
def test_thread_times_and_receipts_are_local_with_dates(new_context, timed_thread, locale):
    page = _open_thread(new_context, timed_thread, locale=locale)
    now = timed_thread["now"]
    log = page.get_by_role("log", name="Messages")
    bubbles = log.get_by_role("article")
    expect(bubbles).to_have_count(3)
    for n, at in enumerate(timed_thread["times"]):
        expect(bubbles.nth(n).locator(".message-time")).to_have_text(bubble(at, locale, now))
        # Read 40 days ago: every receipt says which day, not just a time of day.
        expect(bubbles.nth(n).locator(".message-status")).to_have_text(
            "Read " + bubble(timed_thread["read_at"], locale, now))
    if locale == "en-US":
        expect(bubbles.nth(2).locator(".message-time")).to_have_text(re.compile(r"[AP]M$"))
    else:
        expect(bubbles.nth(2).locator(".message-time")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    expect(bubbles.nth(1).locator(".message-time")).to_contain_text("Yesterday")
    expect(page.locator("body")).not_to_contain_text("UTC")
    # The full date and time is there on hover.
    assert str(timed_thread["times"][0].astimezone(ZONE).year) in (
        bubbles.nth(0).locator(".message-time time").get_attribute("title") or "")
    screenshot(page, f"local-times-thread-{locale}")


def test_first_rows_in_the_html_read_like_the_live_list(new_context, timed_thread):
    """The rows written into /dashboard's HTML (web/first_rows.py) are formatted by the same
    script as the live list: with the websocket held back, the page shows only those."""
    now = timed_thread["now"]
    expected = listed(timed_thread["times"][-1], "en-US", now)

    served = new_context(timezone_id=NEW_YORK, locale="en-US")
    page = served.new_page()
    sign_in(page, LEE)
    expect(page).to_have_url(re.compile(r"/dashboard/?$"))
    html = page.request.get("/dashboard").text()
    assert timed_thread["topic"] in html and "UTC" not in html
    assert 'data-local-time="list"' in html
    # Now without a websocket: only the server's rows can show.
    served.route_web_socket(re.compile(r".*/_event.*"), lambda ws: None)
    page.goto("/dashboard")
    first_rows = page.locator("#first-rows")
    row = first_rows.get_by_role("listitem").filter(has_text=timed_thread["topic"])
    expect(row.locator(".cm-when")).to_have_text(expected)
    served_text = squash(row.locator(".cm-when").inner_text())

    live = _open_thread(new_context, timed_thread, locale="en-US")
    live_row = live.get_by_role("list", name="Conversations").get_by_role("listitem").filter(
        has_text=timed_thread["topic"])
    expect(live_row.locator(".cm-when")).to_have_text(expected)
    assert squash(live_row.locator(".cm-when").inner_text()) == served_text
    assert live.locator("#first-rows").count() == 0  # the live list replaced them


@pytest.mark.parametrize("locale", ["en-US", "en-GB"])
def test_list_style_today_yesterday_weekday_date(new_context, locale):
    """The script's styles on fresh elements (as a live list adds them), in New York."""
    page = new_context(timezone_id=NEW_YORK, locale=locale).new_page()
    page.goto("/login")
    now = datetime.now(UTC).replace(microsecond=0)
    cases = {
        "list-today": (now - timedelta(minutes=2), "list"),
        "list-yesterday": (now - timedelta(days=1), "list"),
        "list-weekday": (now - timedelta(days=3), "list"),
        "list-last-year": (now - timedelta(days=400), "list"),
        "bubble-old": (now - timedelta(days=30), "bubble"),
    }
    # Added after load, the way React adds rows: the MutationObserver formats them.
    page.evaluate("""(cases) => {
        for (const [id, [iso, style]] of Object.entries(cases)) {
            const t = document.createElement("time");
            t.id = id; t.setAttribute("datetime", iso); t.setAttribute("data-local-time", style);
            document.body.appendChild(t);
        }
    }""", {k: [at.strftime("%Y-%m-%dT%H:%M:%SZ"), style] for k, (at, style) in cases.items()})
    for key, (at, style) in cases.items():
        want = listed(at, locale, now) if style == "list" else bubble(at, locale, now)
        expect(page.locator(f"#{key}")).to_have_text(want)
    # React reusing an element for another row changes only its datetime.
    page.evaluate("""() => document.getElementById("list-today")
        .setAttribute("datetime", "2001-02-03T12:00:00Z")""")
    expect(page.locator("#list-today")).to_have_text(
        "3 Feb 2001" if locale == "en-GB" else "Feb 3, 2001")


def test_portal_and_profile_times_are_local_on_a_phone(new_context, timed_thread):
    now = timed_thread["now"]
    page = new_context(timezone_id=NEW_YORK, locale="en-US", viewport=PHONE, is_mobile=True,
                       has_touch=True).new_page()
    sign_in(page, MARIA)
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    row = page.get_by_role("listitem", name=timed_thread["topic"])
    expect(row).to_contain_text(listed(timed_thread["times"][-1], "en-US", now))
    row.click()
    bubbles = page.get_by_role("log", name="Messages").get_by_role("article")
    expect(bubbles.nth(0).locator(".message-time")).to_have_text(
        bubble(timed_thread["times"][0], "en-US", now))
    expect(page.locator("body")).not_to_contain_text("UTC")
    screenshot(page, "local-times-portal-phone")
