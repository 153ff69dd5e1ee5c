"""Nothing a user types is lost: the production server is killed (SIGKILL to its whole process
group) and started again, exactly as ./scripts/start does, while a provider and a patient keep
writing in Chromium.

Every page carries a watcher (``WATCHER``) that looks at the thread in every frame the browser
paints: it records any typed text that was on screen and then was not, any text shown
twice at once, and whether the sender was ever shown the not-sent state.
"""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import ROOT, AppServer, free_port, sign_in, start_server, wait_for
from tests.e2e.app_data import app_session
from tests.e2e.hostproxy import HostRoutingProxy

# Its own phase of the test command: its server's build (for the proxy's port) replaces the
# frontend files the shared test server serves.
pytestmark = [pytest.mark.e2e, pytest.mark.crash]

# Runs in every document before the app: a requestAnimationFrame callback runs just before each
# frame is painted, so looking at the thread in every one sees exactly what reached the screen.
WATCHER = """
(() => {
  const seen = new Set(), lost = new Set(), doubled = new Set();
  let offline = false;
  const bodies = () => [...document.querySelectorAll(
      "[role=article] .message-body, [role=article] .outbox-body")].map((e) => e.textContent);
  const look = () => {
    const counts = new Map();
    for (const text of bodies()) {
      if (!text.startsWith(window.__prefix || "\\u0000")) continue;
      counts.set(text, (counts.get(text) || 0) + 1);
    }
    for (const [text, n] of counts) { seen.add(text); if (n > 1) doubled.add(text); }
    for (const text of seen) if (!counts.has(text)) lost.add(text);
    if (document.querySelector(".outbox-bubble[data-state=offline]")) offline = true;
  };
  window.__watch = { report: () => ({ lost: [...lost], doubled: [...doubled], offline,
                                      seen: [...seen] }) };
  const frame = () => { look(); requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
})();
"""


class RestartableApp:
    """The app started as the README says, killed the hard way and started again on its port,
    reached through a proxy (tests/e2e/hostproxy.py) that can hold one tab's socket down."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.proxy_port = free_port()
        origin = f"http://localhost:{self.proxy_port}"
        self.server: AppServer = start_server(data_dir, extra_env={"CARE_PUBLIC_ORIGIN": origin})
        self.process = self.server.process
        self.restarts = 0
        app_port = int(self.server.base_url.rsplit(":", 1)[1])
        self.proxy = HostRoutingProxy(self.proxy_port, default_port=app_port, event_routes={})
        self.proxy.start()

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.proxy_port}"

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def start(self) -> None:
        self.restarts += 1
        log = self.data_dir / f"server-{self.restarts}.log"
        self.process = subprocess.Popen(
            [str(ROOT / "scripts" / "start")], cwd=ROOT, env=self.server.env,
            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        self.server.process = self.process
        wait_for(f"{self.server.base_url}/api/health", timeout=240, process=self.process)

    def start_in_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.start, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.server.stop()
        self.proxy.stop()

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data_dir / "care.db")


@pytest.fixture(scope="module")
def crash_app(tmp_path_factory: pytest.TempPathFactory):
    app = RestartableApp(tmp_path_factory.mktemp("crash-app"))
    yield app
    app.stop()


@pytest.fixture
def open_page(browser, crash_app):
    contexts = []

    def make(email: str, *, phone: bool = False) -> Page:
        viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 800}
        ctx = browser.new_context(base_url=crash_app.base_url, viewport=viewport)
        ctx.set_default_timeout(20000)
        ctx.add_init_script(WATCHER)
        contexts.append(ctx)
        page = ctx.new_page()
        sign_in(page, email)
        expect(page).to_have_url(re.compile(r"/(dashboard|portal)"))
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def _conversation(app: RestartableApp) -> int:
    """A conversation of Maria Garcia with Dr. Lee's team that takes replies."""
    with app.db() as db:
        return db.execute(
            "select c.id from conversations c join patients p on p.id = c.patient_id "
            "where p.mrn = 'P-100200' and c.status != 'completed' order by c.id limit 1"
        ).fetchone()[0]


def stored_texts(app_server: AppServer, conversation_id: int, prefix: str) -> list[str]:
    """The texts starting with ``prefix`` stored in the conversation, in sequence order, read
    through the services with the running app's key (so whatever binds a ciphertext to its
    place is checked too)."""
    from care_messaging.services.message_views import list_messages

    with app_session(app_server) as session:
        views = list_messages(session, conversation_id=conversation_id, limit=500)
        session.commit()
        return [v.body for v in views if v.body.startswith(prefix)]


def wait_stored(app_server: AppServer, conversation_id: int, prefix: str,
                expected: list[str], timeout: float = 90) -> None:
    """Wait until the conversation holds every expected text; then it must hold exactly
    these, once each, in the order typed."""
    deadline = time.monotonic() + timeout
    stored: list[str] = []
    while time.monotonic() < deadline:
        stored = stored_texts(app_server, conversation_id, prefix)
        if len(stored) >= len(expected):
            break
        time.sleep(0.5)
    assert stored == expected, f"stored {stored}, typed {expected}"


def _send(page: Page, box_name: str, text: str) -> None:
    box = page.get_by_role("textbox", name=box_name)
    box.fill(text)
    box.press("Enter")


def shown_once(page: Page, texts: list[str]) -> None:
    """Each text is in the thread exactly once, as a stored message (no bubble left)."""
    log = page.get_by_role("log", name="Messages")
    for text in texts:
        exact = re.compile(f"^{re.escape(text)}$")
        expect(log.locator(".message-body").filter(has_text=exact)).to_have_count(1)
    expect(log.locator(".outbox-bubble")).to_have_count(0)


def _watch(page: Page, prefix: str) -> None:
    page.evaluate("(p) => { window.__prefix = p; }", prefix)


def _report(page: Page) -> dict:
    return page.evaluate("window.__watch.report()")


def _online(page: Page) -> None:
    expect(page.locator("#connection-state")).to_have_attribute("data-online", "1",
                                                                 timeout=60000)


def test_a_restart_while_the_provider_keeps_typing_loses_nothing(crash_app, open_page):
    conversation = _conversation(crash_app)
    prefix = f"r1-{uuid.uuid4().hex[:6]}-"
    lee = open_page("jordan.lee@demo.care")
    lee.goto(f"/dashboard?c={conversation}")
    maria = open_page("maria.garcia@demo.care", phone=True)
    maria.goto(f"/portal?c={conversation}")
    for page in (lee, maria):
        expect(page.get_by_role("log", name="Messages")).to_be_visible()
        _watch(page, prefix)
    typed = [f"{prefix}{n:02d}" for n in range(1, 21)]
    restart = None
    for n, text in enumerate(typed, start=1):
        _send(lee, "Reply", text)
        time.sleep(0.3)
        if n == 8:
            crash_app.kill()
            time.sleep(2)
            restart = crash_app.start_in_background()  # typing goes on while it starts
    assert restart is not None
    restart.join(timeout=240)
    wait_stored(crash_app.server, conversation, prefix, typed)
    _online(lee)
    for page in (lee, maria):
        shown_once(page, typed)
    report = _report(lee)
    assert report["lost"] == [] and report["doubled"] == []
    assert report["offline"], "the sender was never shown that messages were not sent yet"
    assert _report(maria)["doubled"] == []
    for page in (lee, maria):
        page.reload()
        shown_once(page, typed)
    assert lee.evaluate("window.careOutbox.pending()") == []


def test_kills_just_after_enter_store_each_message_once_in_order(crash_app, open_page):
    conversation = _conversation(crash_app)
    prefix = f"r2-{uuid.uuid4().hex[:6]}-"
    lee = open_page("jordan.lee@demo.care")
    lee.goto(f"/dashboard?c={conversation}")
    expect(lee.get_by_role("log", name="Messages")).to_be_visible()
    _watch(lee, prefix)
    typed = [f"{prefix}{n:02d}" for n in range(1, 11)]
    kills = 0
    rng = random.Random(15)
    for n, text in enumerate(typed, start=1):
        _send(lee, "Reply", text)
        if n % 2 == 0:  # five kills, each 0-20 ms after Enter: the send is in flight
            time.sleep(rng.uniform(0, 0.02))
            crash_app.kill()
            kills += 1
            crash_app.start()
            _online(lee)
        else:
            time.sleep(0.3)
    assert kills == 5
    wait_stored(crash_app.server, conversation, prefix, typed)
    shown_once(lee, typed)
    report = _report(lee)
    assert report["lost"] == [] and report["doubled"] == []
    lee.reload()
    shown_once(lee, typed)


def test_a_patient_writing_through_ten_seconds_of_downtime(crash_app, open_page):
    conversation = _conversation(crash_app)
    prefix = f"r3-{uuid.uuid4().hex[:6]}-"
    maria = open_page("maria.garcia@demo.care", phone=True)
    maria.goto(f"/portal?c={conversation}")
    lee = open_page("jordan.lee@demo.care")
    lee.goto(f"/dashboard?c={conversation}")
    for page in (maria, lee):
        expect(page.get_by_role("log", name="Messages")).to_be_visible()
        _watch(page, prefix)
    typed = [f"{prefix}{n}" for n in range(1, 7)]
    _send(maria, "Message", typed[0])
    expect(maria.locator("[role=article] .message-body", has_text=typed[0])).to_be_visible()
    crash_app.kill()
    down_at = time.monotonic()
    for text in typed[1:]:
        _send(maria, "Message", text)
        time.sleep(1.5)
    # While the server is down the patient sees the message kept, and the reply box and Send
    # stay usable: the connection notice covers neither.
    expect(maria.locator(".outbox-bubble[data-state=offline]")).to_have_count(5)
    expect(maria.get_by_text(re.compile("Not sent yet — will send when the connection is back"))
           .first).to_be_visible()
    notice = maria.locator(".connection-lost").bounding_box()
    for control in (maria.get_by_role("textbox", name="Message"),
                    maria.get_by_role("button", name="Send")):
        box = control.bounding_box()
        assert notice and box and (notice["y"] + notice["height"] <= box["y"]
                                   or box["y"] + box["height"] <= notice["y"])
    time.sleep(max(0.0, 10 - (time.monotonic() - down_at)))
    crash_app.start()
    wait_stored(crash_app.server, conversation, prefix, typed)
    _online(maria)
    for page in (maria, lee):
        shown_once(page, typed)
        assert _report(page)["lost"] == [] and _report(page)["doubled"] == []
    for page in (maria, lee):
        page.reload()
        shown_once(page, typed)


def test_a_reload_and_a_second_tab_with_messages_pending(crash_app, open_page):
    """Messages typed while the server is down wait in the tab's outbox; the tab reloads
    while they are still pending (the server is back but this tab's socket is held down);
    when the socket comes back each is stored once and shown once, also in a second tab."""
    conversation = _conversation(crash_app)
    prefix = f"r4-{uuid.uuid4().hex[:6]}-"
    lee = open_page("jordan.lee@demo.care")
    lee.goto(f"/dashboard?c={conversation}")
    expect(lee.get_by_role("log", name="Messages")).to_be_visible()
    _watch(lee, prefix)
    tab = lee.evaluate("sessionStorage.getItem('token')")
    crash_app.proxy.refused_tokens.add(tab)  # this tab's socket only: held down
    crash_app.kill()
    typed = [f"{prefix}{n}" for n in range(1, 4)]
    for text in typed:
        _send(lee, "Reply", text)
    expect(lee.locator(".outbox-bubble[data-state=offline]")).to_have_count(3)
    crash_app.start()
    lee.reload()
    expect(lee.locator("#connection-state")).to_have_attribute("data-online", "0")
    assert [e["state"] for e in lee.evaluate("window.careOutbox.pending()")] == ["pending"] * 3
    other = lee.context.new_page()  # a second tab of the same provider, connected
    other.add_init_script(WATCHER)
    other.goto(f"/dashboard?c={conversation}")
    expect(other.get_by_role("log", name="Messages")).to_be_visible()
    _watch(other, prefix)
    crash_app.proxy.refused_tokens.discard(tab)
    wait_stored(crash_app.server, conversation, prefix, typed)
    _online(lee)
    shown_once(lee, typed)
    shown_once(other, typed)
    assert _report(other)["doubled"] == [] and _report(lee)["doubled"] == []
    assert lee.evaluate("window.careOutbox.pending()") == []
