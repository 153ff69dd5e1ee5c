"""Scale-out: PostgreSQL + Redis, two app workers, users' sessions on different workers."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in
from tests.e2e.scaleout import scaleout  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e, pytest.mark.scaleout]


@pytest.fixture
def two_users(browser, scaleout):  # noqa: F811 - fixture injection
    provider_ctx = browser.new_context(base_url=scaleout.url_a)
    patient_ctx = browser.new_context(base_url=scaleout.url_b)
    for ctx in (provider_ctx, patient_ctx):
        ctx.set_default_timeout(20000)
    yield provider_ctx, patient_ctx
    provider_ctx.close()
    patient_ctx.close()


def test_sessions_are_held_by_different_workers(two_users, scaleout):  # noqa: F811
    provider_ctx, patient_ctx = two_users
    provider = provider_ctx.new_page()
    sign_in(provider, "jordan.lee@demo.care")
    expect(provider).to_have_url(re.compile(r"/dashboard"))
    patient = patient_ctx.new_page()
    sign_in(patient, "maria.garcia@demo.care")
    expect(patient).to_have_url(re.compile(r"/portal"))
    a_port = int(scaleout.worker_a.base_url.rsplit(":", 1)[1])
    routes = set(scaleout.proxy.websocket_routes)
    assert ("localhost", a_port) in routes
    assert any(host == "127.0.0.1" and port != a_port for host, port in routes)


def _maria_conversation(scaleout) -> tuple[int, str]:  # noqa: F811
    import psycopg

    with psycopg.connect(scaleout.worker_a.env["DATABASE_URL"]) as db:
        return db.execute(
            "select c.id, c.topic from conversations c join patients p on p.id = c.patient_id "
            "where p.mrn = 'P-100200' and c.status <> 'completed' order by c.id limit 1"
        ).fetchone()


def test_live_delivery_crosses_workers(browser, scaleout):  # noqa: F811
    """Dr. Lee's tab is held by worker A, Dr. Patel's by worker B; a reply still arrives live,
    in both directions, with the conversation moving to the top of the other's list."""
    conversation_id, topic = _maria_conversation(scaleout)
    lee_ctx = browser.new_context(base_url=scaleout.url_a, viewport={"width": 1280, "height": 900})
    patel_ctx = browser.new_context(base_url=scaleout.url_b,
                                    viewport={"width": 1280, "height": 900})
    try:
        lee, patel = lee_ctx.new_page(), patel_ctx.new_page()
        sign_in(lee, "jordan.lee@demo.care")
        sign_in(patel, "priya.patel@demo.care")
        expect(lee).to_have_url(re.compile(r"/dashboard"))
        expect(patel).to_have_url(re.compile(r"/dashboard"))
        patel_rows = patel.get_by_role("list", name="Conversations").get_by_role("listitem")
        expect(patel_rows.first).to_be_visible()
        lee.goto(f"/dashboard?c={conversation_id}")
        text = f"Across workers {uuid.uuid4().hex[:8]}"
        lee.get_by_role("textbox", name="Reply").fill(text)
        lee.get_by_role("button", name="Send").click()
        expect(patel_rows.first).to_contain_text(text)
        expect(patel_rows.first).to_contain_text(topic)
        # And back: Patel (worker B) answers in the open thread, Lee (worker A) sees it.
        patel.goto(f"/dashboard?c={conversation_id}")
        answer = f"Seen it {uuid.uuid4().hex[:8]}"
        patel.get_by_role("textbox", name="Reply").fill(answer)
        patel.get_by_role("button", name="Send").click()
        expect(lee.get_by_role("log", name="Messages")).to_contain_text(answer)
        a_port = int(scaleout.worker_a.base_url.rsplit(":", 1)[1])
        hosts = {host: port for host, port in scaleout.proxy.websocket_routes}
        assert hosts["localhost"] == a_port and hosts["127.0.0.1"] != a_port
    finally:
        lee_ctx.close()
        patel_ctx.close()


def test_patient_on_another_worker_gets_the_reply_live_with_receipts(browser, scaleout):  # noqa: F811
    conversation_id, _topic = _maria_conversation(scaleout)
    lee_ctx = browser.new_context(base_url=scaleout.url_a, viewport={"width": 1280, "height": 900})
    maria_ctx = browser.new_context(base_url=scaleout.url_b, viewport={"width": 390, "height": 844})
    try:
        lee, maria = lee_ctx.new_page(), maria_ctx.new_page()
        sign_in(lee, "jordan.lee@demo.care")
        sign_in(maria, "maria.garcia@demo.care")
        expect(maria).to_have_url(re.compile(r"/portal"))
        maria.goto(f"/portal?c={conversation_id}")
        expect(maria.get_by_role("log", name="Messages")).to_be_visible()
        lee.goto(f"/dashboard?c={conversation_id}")
        text = f"Across workers to Maria {uuid.uuid4().hex[:6]}"
        lee.get_by_role("textbox", name="Reply").fill(text)
        lee.get_by_role("button", name="Send").click()
        expect(maria.get_by_role("log", name="Messages")).to_contain_text(text)
        bubble = lee.get_by_role("log", name="Messages").get_by_role("article").filter(
            has_text=text)
        expect(bubble.locator(".message-status")).to_have_text(re.compile(r"Read \d{1,2}:\d\d( [AP]M)?"))
    finally:
        lee_ctx.close()
        maria_ctx.close()
