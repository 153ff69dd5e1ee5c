"""Issue 17 item 11: every page passes axe-core's WCAG 2.1 A/AA rules with no serious or
critical violation, the thread is a polite live region, and the main journeys work from the
keyboard alone.

axe-core comes from the ``axe-playwright-python`` wheel (its bundled axe.min.js), injected
with ``page.evaluate`` (which the page's CSP does not block) and run in the page.
"""

from __future__ import annotations

import re
import uuid
from importlib import resources

import pytest
from playwright.sync_api import Page, expect

from care_messaging.services.conversations import create_conversation
from tests.browser import PHONE, screenshot, sign_in
from tests.e2e.app_data import actor, app_session, patient_id

pytestmark = pytest.mark.e2e
LEE, MARIA = "jordan.lee@demo.care", "maria.garcia@demo.care"
ADMIN = "admin@demo.care"
AXE = (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 AA violations on the page as it is now."""
    page.evaluate(AXE)
    result = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        for v in result["violations"] if v["impact"] in ("serious", "critical")
    ]


def audit(page: Page, name: str, found: dict[str, list[str]]) -> None:
    """Audit the page as it is now; what it finds is kept under ``name`` (every page of a
    journey is audited before the test fails, so one run lists everything to fix)."""
    page.wait_for_load_state("networkidle")
    screenshot(page, f"a11y-{name}")
    violations = serious_violations(page)
    if violations:
        found[name] = violations


@pytest.fixture(scope="module")
def lee_thread(app_server) -> tuple[int, str]:
    topic = f"Keyboard check {uuid.uuid4().hex[:6]}"
    with app_session(app_server) as s:
        c, _ = create_conversation(s, reason="Test follow-up", actor=actor(s, LEE), patient_id=patient_id(s, MARIA),
                                   topic=topic, body="Can you read this from the keyboard?")
        s.commit()
        return c.id or 0, topic


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_provider_pages_have_no_serious_violations(new_context, lee_thread, size):
    found: dict[str, list[str]] = {}
    ctx = ({"viewport": PHONE, "is_mobile": True, "has_touch": True} if size == "phone"
           else {"viewport": {"width": 1440, "height": 900}})
    page = new_context(**ctx).new_page()
    page.goto("/login")
    expect(page.get_by_label("Email")).to_be_visible()
    audit(page, f"sign-in-{size}", found)
    sign_in(page, LEE)
    expect(page).to_have_url(re.compile(r"/dashboard/?$"))
    expect(page.get_by_role("list", name="Conversations").get_by_role("listitem").first
           ).to_be_visible()
    audit(page, f"dashboard-list-{size}", found)
    cid, topic = lee_thread
    page.goto(f"/dashboard?c={cid}")
    expect(page.get_by_role("heading", name=topic)).to_be_visible()
    audit(page, f"dashboard-thread-{size}", found)
    page.goto("/dashboard")
    page.get_by_role("button", name="New Message").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    audit(page, f"dashboard-new-message-{size}", found)
    page.keyboard.press("Escape")
    page.goto(f"/dashboard?c={cid}")
    page.get_by_role("link", name="Patient profile").click()
    expect(page.get_by_role("heading", name="Maria Garcia")).to_be_visible()
    audit(page, f"patient-profile-{size}", found)
    page.goto("/search?q=keyboard")
    expect(page.get_by_role("list", name="Search results")).to_be_visible()
    audit(page, f"search-{size}", found)
    page.goto("/account")
    expect(page.get_by_role("heading").first).to_be_visible()
    audit(page, f"account-{size}", found)
    assert found == {}


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_patient_pages_have_no_serious_violations(new_context, lee_thread, size):
    found: dict[str, list[str]] = {}
    ctx = ({"viewport": PHONE, "is_mobile": True, "has_touch": True} if size == "phone"
           else {"viewport": {"width": 1440, "height": 900}})
    page = new_context(**ctx).new_page()
    sign_in(page, MARIA)
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    expect(page.get_by_role("list", name="Conversations")).to_be_visible()
    audit(page, f"portal-list-{size}", found)
    cid, topic = lee_thread
    page.goto(f"/portal?c={cid}")
    expect(page.get_by_role("heading", name=topic)).to_be_visible()
    audit(page, f"portal-chat-{size}", found)
    page.goto("/portal/help")
    expect(page.get_by_role("heading", name=re.compile("^Help"))).to_be_visible()
    audit(page, f"help-{size}", found)
    assert found == {}


def test_admin_page_has_no_serious_violations(new_context):
    found: dict[str, list[str]] = {}
    page = new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(page, ADMIN)
    expect(page).to_have_url(re.compile(r"/(admin|account)"))
    page.goto("/admin")
    expect(page.get_by_role("table").first).to_be_visible()
    audit(page, "admin", found)
    assert found == {}


def test_thread_is_a_polite_live_region(new_context, lee_thread):
    page = new_context().new_page()
    sign_in(page, LEE)
    page.goto(f"/dashboard?c={lee_thread[0]}")
    log = page.get_by_role("log", name="Messages")
    expect(log).to_have_attribute("aria-live", "polite")
    expect(log).to_have_attribute("aria-relevant", "additions")


def test_open_a_conversation_and_send_with_the_keyboard_only(new_context, lee_thread):
    _cid, topic = lee_thread
    page = new_context(viewport={"width": 1440, "height": 900}).new_page()
    sign_in(page, LEE)
    expect(page).to_have_url(re.compile(r"/dashboard/?$"))
    link = page.get_by_role("link", name=topic)
    expect(link).to_be_visible()
    # Tab through the page to the conversation's link, then Enter.
    _tab_to(page, link)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=topic)).to_be_visible()
    reply = page.get_by_label("Reply", exact=True)
    _tab_to(page, reply)
    text = f"Typed without a mouse {uuid.uuid4().hex[:6]}"
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    mine = page.get_by_role("log", name="Messages").get_by_role("article").filter(has_text=text)
    expect(mine).to_be_visible()
    expect(mine.locator(".message-status")).to_contain_text(re.compile(r"Sent|Delivered|Read"))
    screenshot(page, "a11y-keyboard-sent")


def _tab_to(page: Page, target) -> None:
    """Press Tab until ``target`` has the focus (fails when it never gets it)."""
    for _ in range(200):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    pytest.fail("not reachable with Tab")


def test_patient_opens_and_replies_with_the_keyboard_only(new_context, lee_thread):
    _cid, topic = lee_thread
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_in(page, MARIA)
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    row = page.get_by_role("listitem", name=topic)
    expect(row).to_be_visible()
    _tab_to(page, row)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=topic)).to_be_visible()
    box = page.get_by_role("textbox", name="Message")
    _tab_to(page, box)
    text = f"Patient typed this {uuid.uuid4().hex[:6]}"
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    mine = page.get_by_role("log", name="Messages").get_by_role("article").filter(has_text=text)
    expect(mine).to_be_visible()
    screenshot(page, "a11y-keyboard-patient-sent-phone")
