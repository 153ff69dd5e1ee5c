"""Scale-out: PostgreSQL + Redis, two app workers, users' sessions on different workers."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in
from tests.e2e.scaleout import scaleout  # noqa: F401 - fixture
from tests.e2e.test_crash_safety import WATCHER, shown_once, wait_stored

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


class ChannelRecorder:
    """Every message published on Redis channels matching ``patterns`` while it runs."""

    def __init__(self, *patterns: str) -> None:
        import redis

        from tests.e2e.scaleout import REDIS_URL

        self._pubsub = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
        self.messages: list[tuple[str, bytes]] = []
        self._pubsub.psubscribe(**{p: self._record for p in patterns})
        self._thread = self._pubsub.run_in_thread(sleep_time=0.05, daemon=True)

    def _record(self, message: dict) -> None:
        self.messages.append((message["channel"].decode(), message["data"]))

    def stop(self) -> None:
        self._thread.stop()
        self._thread.join(5)
        self._pubsub.close()


def test_live_delivery_crosses_workers(browser, scaleout):  # noqa: F811
    """Dr. Lee's tab is held by worker A, Dr. Patel's by worker B; a reply still arrives live,
    in both directions, with the conversation moving to the top of the other's list.

    The event reaches the other worker sealed on its forwarding channel and that worker applies
    it to the tab: no delta with the text travels through Reflex's lost-and-found channel."""
    conversation_id, topic = _maria_conversation(scaleout)
    recorder = ChannelRecorder("care:live:deliver:*", "channel:token_manager_lost_and_found_*")
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
        forwarded = [data for channel, data in recorder.messages
                     if channel.startswith("care:live:deliver:")]
        assert len({c for c, _ in recorder.messages if c.startswith("care:live:deliver:")}) == 2, \
            "each worker forwards to the other"
        assert forwarded and not any(t.encode() in d for d in forwarded for t in (text, answer))
        assert not any(t.encode() in d for c, d in recorder.messages
                       if "lost_and_found" in c for t in (text, answer))
    finally:
        recorder.stop()
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


def test_tab_reused_on_another_worker_starts_empty_and_redis_holds_no_phi(scaleout):  # noqa: F811
    """Issue 16, items 1 and 11 on the Redis state manager: the provider's tab state is built
    on worker A; the same tab token with a patient's cookie on worker B gets none of it; and
    what Redis holds for the tab is sealed (no names, no session cookie)."""
    import redis

    from tests.e2e.scaleout import REDIS_URL
    from tests.security.test_tab_reuse import _other_cookie_same_token, run_async

    token = str(uuid.uuid4())
    leaked, names = run_async(_other_cookie_same_token(scaleout.url_a, token=token,
                                                         second_base_url=scaleout.url_b))
    assert leaked == []
    client = redis.Redis.from_url(REDIS_URL)
    values = [client.get(k) or b"" for k in client.keys(f"{token}*")]
    assert values, "no state of the tab in Redis: the check below would prove nothing"
    assert not any(n.encode() in v for n in names for v in values)
    assert not any(b"care_session" in v for v in values)
def test_sign_out_on_another_worker_empties_a_tab_held_in_memory(scaleout):  # noqa: F811
    """Dr. Lee's tab is on worker A, which keeps its state in memory between events (Reflex's
    opportunistic lock); his sign-out is handled by worker B. B must take the tab's lock from A
    (A writes the state back first) and empty it: a hydrate on A's socket finds nothing."""
    from tests.security.test_tab_reuse import (
        _hydrate_after_sign_out,
        _plant_thread,
        run_async,
    )

    conversation_id, body = _plant_thread(scaleout.worker_a)
    frames = run_async(_hydrate_after_sign_out(
        scaleout.url_a, conversation_id, body,
        sign_out_url=f"http://127.0.0.1:{scaleout.worker_b_port}"))
    joined = "\n".join(frames)
    assert frames, "no hydrate answer: the check below would prove nothing"
    assert body not in joined and "Dr. Jordan Lee" not in joined


def test_a_worker_killed_mid_burst_loses_no_message(browser, scaleout):  # noqa: F811
    """Maria's tab is held by worker B; B is killed (SIGKILL to its process group) while she
    writes. Her tab reconnects through the proxy to worker A, and her outbox sends what was
    not acknowledged: each text stored once, in order, shown once on both sides. (Runs last
    in this module: worker B stays down.)"""
    conversation_id, _topic = _maria_conversation(scaleout)
    prefix = f"so-{uuid.uuid4().hex[:6]}-"
    lee_ctx = browser.new_context(base_url=scaleout.url_a, viewport={"width": 1280, "height": 900})
    maria_ctx = browser.new_context(base_url=scaleout.url_b, viewport={"width": 390, "height": 844})
    try:
        lee, maria = lee_ctx.new_page(), maria_ctx.new_page()
        for ctx in (lee_ctx, maria_ctx):
            ctx.set_default_timeout(30000)
        for page in (lee, maria):
            page.add_init_script(WATCHER)
        sign_in(lee, "jordan.lee@demo.care")
        sign_in(maria, "maria.garcia@demo.care")
        expect(maria).to_have_url(re.compile(r"/portal"))
        maria.goto(f"/portal?c={conversation_id}")
        lee.goto(f"/dashboard?c={conversation_id}")
        for page in (lee, maria):
            expect(page.get_by_role("log", name="Messages")).to_be_visible()
            page.evaluate("(p) => { window.__prefix = p; }", prefix)
        typed = [f"{prefix}{n:02d}" for n in range(1, 11)]
        for n, text in enumerate(typed, start=1):
            box = maria.get_by_role("textbox", name="Message")
            box.fill(text)
            box.press("Enter")
            time.sleep(0.3)
            if n == 4:
                os.killpg(scaleout.worker_b.pid, signal.SIGKILL)
                scaleout.worker_b.wait(20)
        wait_stored(scaleout.worker_a, conversation_id, prefix, typed)
        assert ("127.0.0.1", scaleout.worker_b_port) in scaleout.proxy.failovers
        for page in (maria, lee):
            expect(page.locator("#connection-state")).to_have_attribute("data-online", "1")
            shown_once(page, typed)
            report = page.evaluate("window.__watch.report()")
            assert report["lost"] == [] and report["doubled"] == []
            page.reload()
            shown_once(page, typed)
    finally:
        lee_ctx.close()
        maria_ctx.close()
