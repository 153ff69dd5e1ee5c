"""Delivery in the browser: two Chromium pages (patient portal sends, provider dashboard
receives); click Send -> the text appears in the other page's DOM. Selectors: bench/hooks.py.

Timing is taken inside the receiving page: a MutationObserver stamps ``performance.timeOrigin
+ performance.now()`` when the text appears, and the sending page stamps the click the same
way, so both sides use the same wall clock without Playwright round trips in the number.
"""

from __future__ import annotations

import os
import shutil
import uuid

from sqlmodel import select

from bench import hooks
from bench.stats import result, summary
from bench.ws_client import SESSION_COOKIE, login

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WATCH = """(marker) => new Promise((resolve) => {
  const now = () => performance.timeOrigin + performance.now();
  if (document.body.innerText.includes(marker)) return resolve(now());
  const obs = new MutationObserver(() => {
    if (document.body.innerText.includes(marker)) { obs.disconnect(); resolve(now()); }
  });
  obs.observe(document.body, {childList: true, subtree: true, characterData: true});
  setTimeout(() => { obs.disconnect(); resolve(null); }, 10000);
})"""


def run_browser_delivery(base_url: str, plan, samples: int) -> dict:
    from playwright.sync_api import sync_playwright

    from care_messaging.db import session_scope
    from care_messaging.models import Conversation, Patient, User

    patient_email = plan.patient_emails[0]
    with session_scope() as session:
        user = session.exec(select(User).where(User.email == patient_email)).one()
        cid = session.exec(select(Conversation.id).join(
            Patient, Patient.id == Conversation.patient_id).where(
            Patient.user_id == user.id)).first()
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
            handle = receiver.evaluate_handle(WATCH, marker)
            clicked = sender.evaluate(
                "(sel) => { const t = performance.timeOrigin + performance.now();"
                " document.querySelector(sel).click(); return t; }", s_hook.send_selector)
            seen = handle.json_value()
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
    """Navigate to the dashboard; time until the first conversation row is in the DOM."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    hook = hooks.PROVIDER_PAGE
    row = hook.conversation_selector.split("{id}")[0].replace("[href=", "[href^=") + "']"
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        context = browser.new_context(base_url=base_url)
        context.add_cookies([{"name": SESSION_COOKIE, "value": login(
            base_url, plan.provider_email, "CareDemo!2026"), "url": base_url}])
        page = context.new_page()
        page.goto(hook.path)  # warm the bundle cache, as a returning user has it
        page.wait_for_selector(row)
        for _ in range(samples):
            page.goto("about:blank")
            page.goto(hook.path, wait_until="commit")
            page.wait_for_selector(row)
            times.append(page.evaluate(
                "() => performance.now() - performance.getEntriesByType('navigation')[0]"
                ".startTime"))
        browser.close()
    s = summary(times)
    return result(s["p50"], "ms", 300.0, samples=len(times), **s)


def run_thread_open(base_url: str, plan, samples: int) -> dict:
    """Open the 5,000-message conversation by its address (as from a notification link):
    navigation start -> the first screen of its messages in the DOM."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    path = f"{hooks.PROVIDER_PAGE.path}?c={plan.big_conversation_id}"
    message = "[role='log'] [data-testid='message']"
    times, shown = [], 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        context = browser.new_context(base_url=base_url)
        context.add_cookies([{"name": SESSION_COOKIE, "value": login(
            base_url, plan.provider_email, "CareDemo!2026"), "url": base_url}])
        page = context.new_page()
        page.goto(path)  # warm the bundle cache, as a returning user has it
        page.wait_for_selector(message)
        for _ in range(samples):
            page.goto("about:blank")
            page.goto(path, wait_until="commit")
            page.wait_for_selector(message)
            shown = page.locator(message).count()
            times.append(page.evaluate(
                "() => performance.now() - performance.getEntriesByType('navigation')[0]"
                ".startTime"))
        browser.close()
    s = summary(times)
    return result(s["p50"], "ms", 200.0, samples=len(times), **s, messages_shown=shown,
                  note="full page load of /dashboard?c=<5,000-message thread>; older pages "
                       "load on 'Load older'")
