"""What a user notices first (issue 17, items 1-3, 5-8, 12), in Chromium against the running
app: found by role, label and visible text, at desktop and phone sizes."""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from tests.browser import PHONE, screenshot, sign_in

pytestmark = pytest.mark.e2e

LEE, NOVAK = "jordan.lee@demo.care", "casey.novak@demo.care"
MARIA, ADMIN = "maria.garcia@demo.care", "admin@demo.care"
DESKTOP = {"width": 1440, "height": 900}
SEPARATOR = "·"


@pytest.fixture(autouse=True)
def _patient_expectations():
    """These journeys run two or three signed-in tabs on a shared 2-core machine: wait up to
    15 s (the contexts' action timeout) for what must appear, instead of the default 5 s."""
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


def _db(app_server) -> sqlite3.Connection:
    return sqlite3.connect(app_server.env["DATABASE_URL"].removeprefix("sqlite:///"))


def _dashboard(new_context, email: str = LEE, viewport=None, path: str = "") -> Page:
    page = new_context(viewport=viewport or DESKTOP).new_page()
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/dashboard/?$"))
    expect(page.get_by_test_id("list-count")).to_be_visible()
    if path:
        page.goto(path)
    return page


def _portal(new_context, email: str = MARIA) -> Page:
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_in(page, email)
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    expect(page.get_by_role("list", name="Conversations")).to_be_visible()
    return page


def _no_dangling_separator(texts: list[str]) -> None:
    for text in texts:
        text = text.strip()
        assert not text.startswith(SEPARATOR) and not text.endswith(SEPARATOR), text
        assert f"{SEPARATOR} {SEPARATOR}" not in text and f"{SEPARATOR}{SEPARATOR}" not in text


def _choose_patient(dialog, query: str, name: str) -> None:
    dialog.get_by_label("Find patient").fill(query)
    dialog.get_by_role("list", name="Matching patients").get_by_role(
        "button", name=re.compile(rf"^{name}")).first.click()
    expect(dialog.get_by_role("group", name="Chosen patient")).to_contain_text(name)


# ----- 1. category and reason on new conversations, no dangling separators -----

def test_1_provider_new_message_asks_for_category_and_reason(new_context, app_server):
    page = _dashboard(new_context)
    page.get_by_role("button", name="New Message").click()
    dialog = page.get_by_role("dialog", name="New Message")
    _choose_patient(dialog, "Garcia", "Maria Garcia")
    topic = f"Reason check {uuid.uuid4().hex[:6]}"
    dialog.get_by_label("Topic").fill(topic)
    dialog.get_by_label("Message").fill("Your lipid panel is back.")
    dialog.get_by_role("button", name="Send Message").click()
    expect(dialog.get_by_role("alert")).to_have_text("Choose a category.")
    dialog.get_by_label("Category").select_option(label="Test results")
    dialog.get_by_role("button", name="Send Message").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "Enter a reason: a few words on why you are writing.")
    dialog.get_by_label("Reason").fill("Follow-up on your lab results")
    screenshot(page, "ux-provider-new-message-reason")
    dialog.get_by_role("button", name="Send Message").click()
    expect(page.get_by_role("heading", name=topic, level=2)).to_be_visible()
    expect(page.locator(".thread-about")).to_have_text(
        "Test results · Follow-up on your lab results")
    with _db(app_server) as db:
        assert db.execute("select category, reason from conversations where topic = ?",
                          (topic,)).fetchone() == ("test_results", "Follow-up on your lab results")


def test_1_patient_new_conversation_picks_a_message_type_and_reason(new_context):
    page = _portal(new_context)
    page.get_by_role("button", name="New message").click()
    dialog = page.get_by_role("dialog")
    options = dialog.get_by_label("Category").locator("option").all_inner_texts()
    for kind in ("Test results", "Appointments", "Medication", "Care instructions",
                 "Health education", "Check-in", "Administrative"):
        assert any(o.startswith(kind) for o in options), (kind, options)
    topic = f"Refill {uuid.uuid4().hex[:6]}"
    dialog.get_by_label("Topic").fill(topic)
    dialog.get_by_label("Category").select_option("medication")
    dialog.get_by_label("Message").fill("I am almost out of lisinopril.")
    dialog.get_by_role("button", name="Send message").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Enter a reason")
    dialog.get_by_label("Reason").fill("Before my trip")
    screenshot(page, "ux-patient-new-conversation-reason")
    dialog.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("heading", name=topic)).to_be_visible()
    expect(page.get_by_text("Reason: Before my trip")).to_be_visible()
    page.get_by_role("button", name="Close chat").click()
    row = page.get_by_role("listitem", name=topic)
    expect(row.locator(".row-about")).to_have_text("Medication · Before my trip")
    _no_dangling_separator(page.locator(".row-about").all_inner_texts())


def test_1_no_separator_beside_an_empty_reason(new_context, app_server):
    """A conversation stored before reasons were asked for (reason empty) shows "Check-in",
    never "Check-in ·", in the list and the chat header."""
    page = _portal(new_context)
    topic = f"Old style {uuid.uuid4().hex[:6]}"
    page.get_by_role("button", name="New message").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Topic").fill(topic)
    dialog.get_by_label("Category").select_option("check_in")
    dialog.get_by_label("Reason").fill("temporary")
    dialog.get_by_label("Message").fill("Hello")
    dialog.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("heading", name=topic)).to_be_visible()
    with _db(app_server) as db:
        db.execute("update conversations set reason = '' where topic = ?", (topic,))
    page.goto("/portal")
    row = page.get_by_role("listitem", name=topic)
    expect(row.locator(".row-about")).to_have_text("Check-in")
    row.click()
    header = page.get_by_role("heading", name=topic).locator("xpath=..")
    expect(header).not_to_contain_text("Reason:")
    _no_dangling_separator(header.locator("p, span").all_inner_texts())


# ----- 2. the app's address -----

@pytest.mark.parametrize(("email", "landing"), [
    (None, "/login"), (LEE, "/dashboard"), (MARIA, "/portal"), (ADMIN, "/admin")])
def test_2_root_goes_to_sign_in_or_the_landing_page(new_context, email, landing):
    page = new_context().new_page()
    if email:
        sign_in(page, email)
        expect(page).not_to_have_url(re.compile(r"/login"))
    page.goto("/")
    expect(page).to_have_url(re.compile(rf"{landing}/?$"))
    if email is None:
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.get_by_role("status")).to_have_count(0)  # no "session ended" notice


# ----- 3. first visit vs an ended session, and back to the page asked for -----

def _sign_in_here(page: Page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("CareDemo!2026")
    page.get_by_role("button", name="Sign in").click()


def test_3_first_visit_is_plain_sign_in_and_returns_to_the_page(new_context, app_server):
    with _db(app_server) as db:
        (cid, topic) = db.execute(
            "select c.id, c.topic from conversations c join patients p on p.id = c.patient_id "
            "where p.mrn = 'P-100200' order by c.id limit 1").fetchone()
    page = new_context(viewport=DESKTOP).new_page()
    page.goto(f"/dashboard?c={cid}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("Your session ended")).to_have_count(0)
    screenshot(page, "ux-first-visit-sign-in")
    _sign_in_here(page, LEE)
    expect(page).to_have_url(re.compile(rf"/dashboard/?\?c={cid}$"))
    expect(page.get_by_role("heading", name=topic, level=2)).to_be_visible()


def test_3_sign_in_never_leaves_the_site(new_context):
    page = new_context().new_page()
    for evil in ("https://evil.example/", "//evil.example/portal", "/\\evil.example"):
        page.context.clear_cookies()
        page.goto("/login?next=" + evil.replace("/", "%2F").replace("\\", "%5C"))
        _sign_in_here(page, MARIA)
        expect(page).to_have_url(re.compile(r"^http://localhost:\d+/portal/?$"))


def test_3_an_ended_session_says_so_and_returns(new_context, app_server):
    ctx = new_context(viewport=PHONE)
    page = ctx.new_page()
    sign_in(page, MARIA)
    expect(page).to_have_url(re.compile(r"/portal/?$"))
    page.goto("/portal/help")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    token = next(c["value"] for c in ctx.cookies() if c["name"] == "care_session")
    import hashlib
    with _db(app_server) as db:  # the session times out (what the idle check records)
        db.execute("update auth_sessions set revoked_at = ?, revoked_reason = 'idle' "
                   "where token_hash = ?", (datetime.now(UTC).replace(tzinfo=None).isoformat(
                       sep=" "), hashlib.sha256(token.encode()).hexdigest()))
    page.reload()
    expect(page).to_have_url(re.compile(r"/login\?reason=expired&next=%2Fportal%2Fhelp"))
    expect(page.get_by_role("status")).to_have_text("Your session ended. Please sign in again.")
    screenshot(page, "ux-session-ended-sign-in")
    _sign_in_here(page, MARIA)
    expect(page).to_have_url(re.compile(r"/portal/help/?$"))


# ----- 5. the reply box and the newest message on the first screen -----

@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 720}, DESKTOP,
                                      {"width": 1920, "height": 1080}],
                         ids=["1280x720", "1440x900", "1920x1080"])
def test_5_composer_and_newest_message_visible_without_scrolling(new_context, long_thread,
                                                                 viewport):
    cid, _ = long_thread
    page = _dashboard(new_context, viewport=viewport, path=f"/dashboard?c={cid}")
    log = page.get_by_role("log", name="Messages")
    expect(log.get_by_test_id("message").last).to_contain_text("Reading 75")
    expect(log.get_by_test_id("message").last).to_be_in_viewport(ratio=1)
    expect(page.get_by_label("Reply", exact=True)).to_be_in_viewport(ratio=1)
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_in_viewport(ratio=1)
    assert page.evaluate("window.scrollY") == 0
    # The five figures stay on screen; the chart is one click away.
    expect(page.get_by_test_id("stat-Unread messages")).to_be_in_viewport()
    chart = page.get_by_role("list", name="Messages per day")
    expect(chart).to_be_hidden()
    page.get_by_text("Show 30-day chart").click()
    expect(chart).to_be_visible()
    if viewport["width"] == 1280:
        page.get_by_text("Show 30-day chart").click()
        screenshot(page, "ux-dashboard-1280x720-thread")


def test_5_phone_statistics_leave_room_for_the_list(new_context):
    page = _dashboard(new_context, viewport=PHONE)
    stats = page.get_by_role("region", name="Statistics")
    box = stats.bounding_box()
    assert box is not None and box["height"] < PHONE["height"] * 0.15, box
    for label in ("Total conversations", "Unread messages", "Patients", "Total messages",
                  "Median first reply"):
        expect(stats.get_by_role("group", name=label)).to_be_in_viewport()
    rows = page.get_by_test_id("conversation-row")
    visible = sum(1 for i in range(6) if rows.nth(i).evaluate(
        "r => r.getBoundingClientRect().bottom <= window.innerHeight"))
    assert visible >= 3, visible
    screenshot(page, "ux-dashboard-phone-list")


# ----- 6. no preselected patient; a searchable picker that tells namesakes apart -----

def test_6_new_message_picks_no_patient_and_searches_on_the_server(new_context, app_server):
    page = _dashboard(new_context)
    page.get_by_role("button", name="New Message").click()
    dialog = page.get_by_role("dialog", name="New Message")
    expect(dialog.get_by_role("group", name="Chosen patient")).to_have_count(0)
    expect(dialog.get_by_label("Find patient")).to_have_value("")
    matches = dialog.get_by_role("list", name="Matching patients")
    expect(matches.get_by_role("button")).to_have_count(20)  # a page, not the whole panel
    with _db(app_server) as db:
        (born,) = db.execute("select date_of_birth from patients where mrn = 'P-100200'"
                             ).fetchone()
    born = datetime.fromisoformat(str(born))
    born_text = f"Born {born.strftime('%b')} {born.day}, {born.year}"
    for query in ("maria gar", "P-100200", born.date().isoformat()):
        dialog.get_by_label("Find patient").fill(query)
        expect(matches.get_by_role("button")).to_have_count(1)
        expect(matches.get_by_role("button")).to_have_text(
            re.compile(rf"Maria Garcia\s*ID P-100200 · {born_text}"))
    expect(dialog.get_by_role("status")).to_have_text("1 patient")
    screenshot(page, "ux-new-message-patient-picker")
    dialog.get_by_role("button", name="Send Message").click()
    expect(dialog.get_by_role("alert")).to_have_text("Choose a patient.")
    matches.get_by_role("button").click()
    chosen = dialog.get_by_role("group", name="Chosen patient")
    expect(chosen).to_contain_text("Maria Garcia")
    expect(chosen).to_contain_text(f"ID P-100200 · {born_text}")
    chosen.get_by_role("button", name="Change patient").click()
    expect(dialog.get_by_label("Find patient")).to_be_visible()
    # Another team's provider cannot find Dr. Lee's patient.
    novak = _dashboard(new_context, NOVAK)
    novak.get_by_role("button", name="New Message").click()
    other = novak.get_by_role("dialog", name="New Message")
    other.get_by_label("Find patient").fill("Garcia")
    expect(other.get_by_role("status")).to_have_text("No patient on your care teams matches.")
    expect(other.get_by_role("list", name="Matching patients").get_by_role("button")
           ).to_have_count(0)


# ----- 7. the patient's list names who it is with and who wrote last -----

def test_7_patient_list_shows_provider_and_last_writer(new_context, app_server):
    with _db(app_server) as db:
        rows = db.execute(
            "select c.id, pu.display_name, su.display_name from conversations c "
            "join patients p on p.id = c.patient_id join users u on u.id = p.user_id "
            "join users pu on pu.id = c.provider_user_id "
            "join messages m on m.id = c.last_message_id join users su on su.id = m.sender_user_id "
            "where u.email = ? and su.id != pu.id and su.role = 'provider'", (MARIA,)).fetchall()
    assert rows, "the demo clinic has a conversation whose last writer is not its provider"
    cid, provider, writer = rows[0]
    page = _portal(new_context)
    row = page.locator(f'a[href="/portal?c={cid}"]')
    expect(row.locator(".row-provider")).to_have_text(provider)
    expect(row.locator(".row-preview")).to_contain_text(f"{writer}: ")
    # A conversation the patient starts is with the care team, by name, until someone answers.
    page.get_by_role("button", name="New message").click()
    dialog = page.get_by_role("dialog")
    topic = f"Team {uuid.uuid4().hex[:6]}"
    dialog.get_by_label("Topic").fill(topic)
    dialog.get_by_label("Category").select_option("check_in")
    dialog.get_by_label("Reason").fill("Feeling better")
    dialog.get_by_label("Message").fill("Just an update")
    dialog.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("heading", name=topic)).to_be_visible()
    page.get_by_role("button", name="Close chat").click()
    mine = page.get_by_role("listitem", name=topic)
    expect(mine.locator(".row-provider")).to_have_text(
        "Dr. Jordan Lee, Dr. Priya Patel and NP Sam Rivera")
    expect(mine.locator(".row-preview")).to_have_text("You: Just an update")
    expect(page.get_by_text("Your care team", exact=True)).to_have_count(0)
    screenshot(page, "ux-patient-list-provider-and-last-writer")


# ----- 8. "who viewed this" tells the same story as the Read receipts -----

def test_8_viewers_agree_with_read_receipts(new_context):
    page = _portal(new_context)
    page.get_by_role("button", name="New message").click()
    dialog = page.get_by_role("dialog")
    topic = f"Viewers {uuid.uuid4().hex[:6]}"
    dialog.get_by_label("Topic").fill(topic)
    dialog.get_by_label("Category").select_option("check_in")
    dialog.get_by_label("Reason").fill("Quick question")
    dialog.get_by_label("Message").fill("Is the clinic open on Saturday?")
    dialog.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("heading", name=topic)).to_be_visible()
    summary = page.get_by_text(re.compile(r"^Who on your care team viewed this \(\d+\)$"))
    expect(summary).to_have_text("Who on your care team viewed this (0)")
    status = page.get_by_test_id("message").last.locator(".message-status")
    expect(status).not_to_contain_text("Read")
    cid = re.search(r"c=(\d+)", page.url).group(1)
    lee = _dashboard(new_context, path=f"/dashboard?c={cid}")
    expect(lee.get_by_role("heading", name=topic, level=2)).to_be_visible()
    # The patient's open chat turns "Read" and names the reader in the same update.
    expect(status).to_contain_text("Read")
    expect(summary).to_have_text("Who on your care team viewed this (1)")
    summary.click()
    expect(page.get_by_role("listitem").filter(has_text="Dr. Jordan Lee")).to_be_visible()
    screenshot(page, "ux-patient-viewers-and-receipts")


def test_8_older_read_conversations_name_their_readers(new_context, app_server):
    """Seeded history has read marks and no audited opens: "Read" still comes with names."""
    with _db(app_server) as db:
        cid = db.execute(
            "select c.id from conversations c join patients p on p.id = c.patient_id "
            "join users u on u.id = p.user_id where u.email = ? and exists ("
            " select 1 from read_states r join users ru on ru.id = r.user_id"
            " where r.conversation_id = c.id and ru.role = 'provider' and r.last_read_seq > 0)"
            " and not exists (select 1 from audit_events a where a.object_type = 'conversation'"
            " and a.object_id = cast(c.id as text) and a.action = 'conversation_open'"
            " and a.actor_user_id != u.id) order by c.id", (MARIA,)).fetchone()[0]
    page = _portal(new_context)
    page.goto(f"/portal?c={cid}")
    read = page.get_by_test_id("message").locator(".message-status").filter(has_text="Read")
    expect(read.first).to_be_visible()
    summary = page.get_by_text(re.compile(r"^Who on your care team viewed this"))
    expect(summary).not_to_have_text("Who on your care team viewed this (0)")


# ----- 12. nits: "Start of conversation" centred; dates in the same place on every row -----

def test_12_start_of_conversation_is_centred(new_context):
    page = _portal(new_context)
    page.get_by_role("button", name="New message").click()
    dialog = page.get_by_role("dialog")
    topic = f"Short {uuid.uuid4().hex[:6]}"
    dialog.get_by_label("Topic").fill(topic)
    dialog.get_by_label("Category").select_option("check_in")
    dialog.get_by_label("Reason").fill("Short thread")
    dialog.get_by_label("Message").fill("One message only")
    dialog.get_by_role("button", name="Send message").click()
    log = page.get_by_role("log", name="Messages")
    marker = log.get_by_text("Start of conversation")
    expect(marker).to_be_visible()
    centre = marker.evaluate("""e => {
        const r = document.createRange(); r.selectNodeContents(e);
        const t = r.getBoundingClientRect(), l = e.closest('[role=log]').getBoundingClientRect();
        return [(t.left + t.right) / 2, (l.left + l.right) / 2];
    }""")
    assert abs(centre[0] - centre[1]) <= 12, centre


def _right_edges_and_offsets(page: Page, rows: str, when: str) -> tuple[set, set]:
    found = page.evaluate("""([rows, when]) => [...document.querySelectorAll(rows)].map(r => {
        const w = r.querySelector(when).getBoundingClientRect(), b = r.getBoundingClientRect();
        return [Math.round(b.right - w.right), Math.round(w.top - b.top)];
    })""", [rows, when])
    assert len(found) >= 3
    return {f[0] for f in found}, {f[1] for f in found}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_12_dates_sit_in_the_same_place_on_every_row(new_context, viewport):
    page = _dashboard(new_context, viewport=viewport)
    # Unread and read rows, one-line and wrapped topics alike.
    rights, tops = _right_edges_and_offsets(page, "[data-testid=conversation-row]", ".cm-when")
    assert (len(rights), len(tops)) == (1, 1), (rights, tops)
    screenshot(page, f"ux-dashboard-row-dates-{viewport['width']}")
    portal = _portal(new_context)
    rights, tops = _right_edges_and_offsets(
        portal, "[aria-label=Conversations] > a", ".row-when")
    assert (len(rights), len(tops)) == (1, 1), (rights, tops)
