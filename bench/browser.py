"""Delivery in the browser: two Chromium pages (patient portal sends, provider dashboard
receives); click Send -> the text appears in the other page's DOM. Selectors: bench/hooks.py.

Timing is taken inside the receiving page: a MutationObserver stamps ``performance.timeOrigin
+ performance.now()`` when the text appears, and the sending page stamps the click the same
way, so both sides use the same wall clock without Playwright round trips in the number.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid

from sqlmodel import select

from bench import hooks
from bench.stats import result, summary
from bench.ws_client import SESSION_COOKIE, login

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# Installs the observer and returns at once: Playwright's evaluate waits for a returned
# promise, so the promise is parked on window and awaited after the click (WAIT_SEEN).
# The text counts once it is in the open thread (the message log), not in a list preview.
WATCH = """(marker) => {
  const now = () => performance.timeOrigin + performance.now();
  const shown = () => [...document.querySelectorAll("[role='log']")]
    .some((log) => log.innerText.includes(marker));
  window.__seen = new Promise((resolve) => {
    if (shown()) return resolve(now());
    const obs = new MutationObserver(() => {
      if (shown()) { obs.disconnect(); resolve(now()); }
    });
    obs.observe(document.body, {childList: true, subtree: true, characterData: true});
    setTimeout(() => { obs.disconnect(); resolve(null); }, 10000);
  });
  return true;
}"""
WAIT_SEEN = "() => window.__seen"
# Rows of the live list (not the ones served with the page, web/first_rows.py: those are plain
# links until the app has booted, and a click on one loads the page again).
LIVE_ROWS = "[role='list']:not([aria-busy]) [data-testid='conversation-row']"

# Stamps, from inside each newly loaded page, when an element matching a selector is first
# painted: the first animation frame after it is in the DOM (frames wait for render-blocking
# stylesheets), then the end of that frame's task. A page-load figure thus includes styles and
# paint but not Playwright's own polling and round trips. Read back with FIRST_SHOWN /
# SHOWN_AT; several selectors may be watched, each under its own key.
STAMP_FIRST = """(() => {
  const watched = %s;
  window.__shown = {};
  const check = () => {
    for (const [key, selector] of Object.entries(watched)) {
      if (window.__shown[key] === undefined && document.querySelector(selector)) {
        window.__shown[key] = null;
        requestAnimationFrame(() => setTimeout(() => { window.__shown[key] = performance.now(); }));
      }
    }
  };
  new MutationObserver(check).observe(document, {childList: true, subtree: true});
})();"""
SHOWN_AT = ("(key) => window.__shown[key] - "
            "performance.getEntriesByType('navigation')[0].startTime")
FIRST_SHOWN = "() => (" + SHOWN_AT + ")('first')"
STAMPED = "(key) => window.__shown.first && window.__shown[key]"


def stamp_first(selector: str, **others: str) -> str:
    return STAMP_FIRST % json.dumps({"first": selector, **others})


def run_browser_delivery(base_url: str, plan, samples: int) -> dict:
    from playwright.sync_api import sync_playwright

    from bench.scenarios_live import sender_conversation

    patient_email = plan.patient_emails[0]
    cid = sender_conversation(patient_email)
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    latencies = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        pages = {}
        for role, email, hook in (("sender", patient_email, hooks.PATIENT_PAGE),
                                  ("receiver", plan.provider_email, hooks.PROVIDER_PAGE)):
            context = browser.new_context(base_url=base_url)
            context.add_cookies([{"name": SESSION_COOKIE, "value": login(base_url, email,
                                  "CareDemo!2026"), "url": base_url}])
            page = context.new_page()
            # By address: the patient's conversation need not be on the provider's first page.
            page.goto(f"{hook.path}?c={cid}")
            page.wait_for_selector(f"{hook.thread_selector} [data-testid='message']")
            pages[role] = (page, hook)
        sender, s_hook = pages["sender"]
        receiver, _ = pages["receiver"]
        for _ in range(samples):
            marker = f"browser-{uuid.uuid4().hex[:10]}"
            sender.fill(s_hook.composer_selector, f"Browser probe {marker}")
            receiver.evaluate(WATCH, marker)
            clicked = sender.evaluate(
                "(sel) => { const t = performance.timeOrigin + performance.now();"
                " document.querySelector(sel).click(); return t; }", s_hook.send_selector)
            seen = receiver.evaluate(WAIT_SEEN)
            if seen is not None:
                latencies.append(seen - clicked)
            else:
                break  # one lost message means the harness or the page is stuck: stop early
        browser.close()
    if not latencies:
        rec = result(None, "ms", 40.0, samples=0, note="no message seen in the receiver DOM")
        rec["met"] = False
        return rec
    s = summary(latencies)
    return result(s["p50"], "ms", 40.0, samples=len(latencies), **s,
                  lost=samples - len(latencies))


def run_list_load(base_url: str, plan, samples: int) -> dict:
    """Open the dashboard in a new tab (bundle cached, as for a returning user): navigation
    start -> the first conversation row painted, stamped inside the page. The rows may be the
    ones the server wrote into the page (web/first_rows.py); when the live list from the
    websocket replaces them is reported beside it (``live_list_p50``)."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    hook = hooks.PROVIDER_PAGE
    row = hook.conversation_selector.split("{id}")[0].replace("[href=", "[href^=") + "']"
    times, live = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        context = browser.new_context(base_url=base_url)
        context.add_cookies([{"name": SESSION_COOKIE, "value": login(
            base_url, plan.provider_email, "CareDemo!2026"), "url": base_url}])
        context.add_init_script(stamp_first(row, live=LIVE_ROWS))
        page = context.new_page()
        page.goto(hook.path)  # warm the bundle cache, as a returning user has it
        page.wait_for_selector(LIVE_ROWS)
        for _ in range(samples):
            # A new tab each time: a reloaded tab keeps its Reflex token, and the server would
            # send the rows it still holds for it with the first (hydrate) update.
            tab = context.new_page()
            tab.goto(hook.path, wait_until="commit")
            tab.wait_for_selector(LIVE_ROWS)
            tab.wait_for_function(STAMPED, arg="live")
            times.append(tab.evaluate(FIRST_SHOWN))
            live.append(tab.evaluate(SHOWN_AT, "live"))
            tab.close()
        browser.close()
    s = summary(times)
    return result(s["p50"], "ms", 300.0, samples=len(times), **s,
                  live_list_p50=summary(live)["p50"], live_list_p99=summary(live)["p99"])


def _newest_message_text(conversation_id: int, marker: str) -> str:
    """Store one message in the conversation (on the run's own copy) so it heads the
    provider's list, and return its text: the thread is "shown" when that text is."""
    from care_messaging.db import session_scope
    from care_messaging.models import Conversation, Patient, User
    from care_messaging.services.actors import actor_for_user
    from care_messaging.services.message_sending import send_message

    text = f"Thread open probe {marker}"
    with session_scope() as session:
        user = session.exec(select(User).join(Patient, Patient.user_id == User.id).join(
            Conversation, Conversation.patient_id == Patient.id).where(
            Conversation.id == conversation_id)).one()
        send_message(session, actor=actor_for_user(session, user),
                     conversation_id=conversation_id, body=text, client_msg_id=uuid.uuid4().hex)
    return text


def run_thread_open(base_url: str, plan, samples: int) -> dict:
    """Open the 5,000-message conversation from the dashboard's list, as a provider does:
    click its row -> its newest messages in the DOM (timed inside the page). Between samples
    another conversation is opened, so every sample loads the big thread afresh. A full page
    load of /dashboard?c=<id> (as from a notification link) is reported beside it."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    big = plan.big_conversation_id
    newest = _newest_message_text(big, uuid.uuid4().hex[:8])
    message = "[role='log'] [data-testid='message']"
    row_link = LIVE_ROWS + " a[href='/dashboard?c={id}']"
    clicks, loads, shown = [], [], 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        context = browser.new_context(base_url=base_url)
        context.add_cookies([{"name": SESSION_COOKIE, "value": login(
            base_url, plan.provider_email, "CareDemo!2026"), "url": base_url}])
        page = context.new_page()
        page.goto(hooks.PROVIDER_PAGE.path)
        page.wait_for_selector(row_link.format(id=big))
        other = page.locator(LIVE_ROWS + " a.conversation-link").nth(1)
        for _ in range(samples):
            other.click()
            # The other thread is on screen (the big one's newest message gone from it).
            page.wait_for_function(
                "(text) => { const logs = [...document.querySelectorAll(\"[role='log']\")];"
                " return logs.length > 0 && logs.every((l) => !l.innerText.includes(text))"
                " && document.querySelector(\"[role='log'] [data-testid='message']\"); }",
                arg=newest)
            page.evaluate(WATCH, newest)
            clicked = page.evaluate(
                "(sel) => { const t = performance.timeOrigin + performance.now();"
                " document.querySelector(sel).click(); return t; }", row_link.format(id=big))
            seen = page.evaluate(WAIT_SEEN)
            if seen is None:
                break
            clicks.append(seen - clicked)
            shown = page.locator(message).count()
        older = _older_pages_on_scroll(page, pages=max(5, samples // 2))
        context.add_init_script(stamp_first(message))
        for _ in range(max(5, samples // 2)):  # the address opened in a new tab, bundle cached
            tab = context.new_page()
            tab.goto(f"{hooks.PROVIDER_PAGE.path}?c={big}", wait_until="commit")
            tab.wait_for_selector(message)
            tab.wait_for_function(STAMPED, arg="first")
            loads.append(tab.evaluate(FIRST_SHOWN))
            tab.close()
        browser.close()
    if not clicks:
        rec = result(None, "ms", 200.0, samples=0, note="the thread never showed after a click")
        rec["met"] = False
        return rec
    s = summary(clicks)
    load = summary(loads)
    scroll = summary(older) if older else {"p50": None, "p99": None}
    return result(s["p50"], "ms", 200.0, samples=len(clicks), **s, messages_shown=shown,
                  full_page_load_p50=load["p50"], full_page_load_p99=load["p99"],
                  older_page_on_scroll_p50=scroll["p50"], older_page_on_scroll_p99=scroll["p99"],
                  older_pages=len(older),
                  note="click on the conversation in the list -> its newest messages shown "
                       f"(first screen: {shown} of 5,000); scrolled to the top, the next older "
                       f"page shows in p50 {scroll['p50']} ms ({len(older)} pages); "
                       f"a full page load of /dashboard?c=<id> takes p50 {load['p50']} ms")


# Scrolls the open thread to its top (column-reverse: the most negative scrollTop), as a
# reader does, and resolves with the milliseconds until the next older page is in the DOM (the
# page's scroll watcher presses "Load older messages"; nothing is clicked from here), or null.
SCROLL_FOR_OLDER = """() => new Promise((resolve) => {
  const log = document.querySelector("[role='log']");
  const count = () => log.querySelectorAll("[data-testid='message']").length;
  const before = count();
  const obs = new MutationObserver(() => {
    if (count() > before) { obs.disconnect(); resolve(performance.now() - start); }
  });
  obs.observe(log, {childList: true, subtree: true});
  const start = performance.now();
  log.scrollTop = -log.scrollHeight;
  setTimeout(() => { obs.disconnect(); resolve(null); }, 10000);
})"""


def _older_pages_on_scroll(page, pages: int) -> list[float]:
    """The big thread is open at its newest messages: scroll up ``pages`` times."""
    times = []
    for _ in range(pages):
        page.wait_for_selector("[role='log'][aria-busy='false']")
        page.evaluate("() => { const l = document.querySelector(\"[role='log']\");"
                      " l.scrollTop = 0; }")  # back to the newest, out of the button's sight
        page.wait_for_timeout(500)  # the watcher re-arms (assets/care.js, REARM_MS)
        elapsed = page.evaluate(SCROLL_FOR_OLDER)
        if elapsed is None:
            break
        times.append(elapsed)
    return times
