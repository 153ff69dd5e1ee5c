"""In Chromium: CSP without violations, no token in frames or storage, hostile text stays text."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from playwright.sync_api import expect

from tests.browser import ROOT, sign_in

pytestmark = pytest.mark.e2e

HOSTILE = [
    "<script>window.__pwned = 'script'</script>",
    '<img src=x onerror="window.__pwned = \'img\'">',
    "[click me](javascript:window.__pwned='md')",
    '<a href="javascript:window.__pwned=\'link\'">click me</a>',
]


def _run_in_app(app_server, code: str) -> str:
    """Run Python against the e2e server's own database and key (through the services)."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                            env=app_server.env, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_pages_carry_security_headers(new_context, app_server):
    page = new_context().new_page()
    for path in ("/login", "/dashboard", "/api/health"):
        response = page.request.get(app_server.base_url + path)
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["cache-control"] == "no-store"


def test_no_csp_violation_no_token_in_frames_or_storage(new_context):
    context = new_context()
    page = context.new_page()
    console: list[str] = []
    frames: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.on("websocket", lambda ws: (ws.on("framereceived", lambda f: frames.append(str(f))),
                                     ws.on("framesent", lambda f: frames.append(str(f)))))
    sign_in(page, "maria.garcia@demo.care")
    expect(page).to_have_url(re.compile(r"/portal"))
    page.get_by_role("list", name="Conversations").get_by_role("listitem").first.click()
    expect(page.get_by_role("log", name="Messages")).to_be_visible()
    token = next(c["value"] for c in context.cookies() if c["name"] == "care_session")
    assert frames, "the websocket carried no frames: the check below would prove nothing"
    assert not any(token in frame for frame in frames)
    assert not any("$argon2" in frame for frame in frames)
    storage = page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert token not in storage and "Maria" not in storage and "@demo.care" not in storage
    assert page.evaluate("() => document.cookie").find(token) == -1  # HttpOnly: invisible to JS
    violations = [m for m in console if "Content Security Policy" in m or "Refused to" in m]
    assert violations == []


HOSTILE_BODY = "\n".join(HOSTILE)


def test_hostile_message_text_renders_inert(new_context, app_server):
    conversation_id = _run_in_app(app_server, f"""
        from sqlmodel import select
        from care_messaging.db import session_scope
        from care_messaging.models import Patient, User, Conversation
        from care_messaging.services.actors import actor_for_user
        from care_messaging.services.conversations import create_conversation
        with session_scope() as s:
            maria = s.exec(select(User).where(User.email == "maria.garcia@demo.care")).one()
            actor = actor_for_user(s, maria)
            conversation, _ = create_conversation(s, actor=actor, patient_id=None,
                                                  reason="Test", topic="Hostile text", body={HOSTILE_BODY!r})
            print(conversation.id)
    """)
    for email, url in (("jordan.lee@demo.care", f"/dashboard?c={conversation_id}"),
                       ("maria.garcia@demo.care", f"/portal?c={conversation_id}")):
        page = new_context().new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d, seen=dialogs: (seen.append(d.message), d.dismiss()))
        sign_in(page, email)
        page.goto(url)
        log = page.get_by_role("log", name="Messages")
        for line in HOSTILE:
            expect(log).to_contain_text(line)  # shown literally, as text
        for link in log.get_by_text("click me").all():
            link.click(force=True)
        page.wait_for_timeout(500)
        assert page.evaluate("() => window.__pwned") is None
        assert log.locator("script, img[src='x'], a[href^='javascript:']").count() == 0
        assert dialogs == []
