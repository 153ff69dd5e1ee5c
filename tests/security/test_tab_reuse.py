"""A browser tab reused by a second user gets nothing of the first (issue 16, item 1).

Reflex keeps its tab token in sessionStorage, so it survives a sign-out; ``hydrate`` sends the
whole state tree held for that token. These tests drive the real server: over a raw Socket.IO
connection with the token kept by hand, and in Chromium where the same tab signs in again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import subprocess
import sys
import textwrap
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from bench.ws_client import HYDRATE, SESSION_COOKIE, ReflexClient, login, state_full_name
from tests.browser import DEMO_PASSWORD, ROOT, sign_in

pytestmark = pytest.mark.e2e

PROVIDER = "jordan.lee@demo.care"
PATIENT = "maria.garcia@demo.care"
PATIENT_NAME = "Maria Garcia"
DASHBOARD = "care_messaging.pages.dashboard_state:DashboardState"


def run_async(coroutine):
    """Run a protocol client to completion on its own thread: Playwright's sync API may
    already run an event loop on this one (the browser fixture is session-wide)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _plant_thread(app_server) -> tuple[int, str]:
    """A conversation between Dr. Lee and one of his patients other than Maria, with a body no
    one else has (the demo's lines repeat between patients): (conversation id, body)."""
    body = f"Biopsy result {uuid.uuid4().hex[:12]}: benign"
    code = f"""
        from sqlmodel import select
        from care_messaging.db import session_scope
        from care_messaging.models import User
        from care_messaging.services.actors import actor_for_user
        from care_messaging.services.conversations import create_conversation
        from care_messaging.services.patients import search_patients
        with session_scope() as s:
            lee = actor_for_user(s, s.exec(select(User).where(User.email == "{PROVIDER}")).one())
            patient = next(p for p in search_patients(s, actor=lee).rows
                           if p.name != "{PATIENT_NAME}")
            conversation, _ = create_conversation(s, actor=lee, patient_id=patient.id,
                                                  reason="Test follow-up", topic="Results",
                                                  body="{body}")
            print(conversation.id)
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                            env=app_server.env, capture_output=True, text=True, check=True)
    return int(result.stdout.strip().splitlines()[-1]), body


async def _until(check, timeout: float = 30.0) -> None:
    """Poll ``check()`` (the client merges every delta as it arrives)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the expected state never arrived")
        await asyncio.sleep(0.05)


def _logout(base_url: str, cookie: str) -> None:
    response = httpx.post(f"{base_url}/api/auth/logout", cookies={SESSION_COOKIE: cookie},
                          follow_redirects=False, timeout=30)
    assert response.status_code == 303


def _provider_phi(client: ReflexClient) -> set[str]:
    """Names, patient IDs, topics and message bodies the provider's tab was sent, leaving out
    anything that belongs to the patient who signs in next (she may see her own)."""
    dashboard = state_full_name(DASHBOARD)
    phi: set[str] = set()
    for row in client.var(dashboard, "conversations", []):
        if row["patient_name"] != PATIENT_NAME:
            # (Topics are left out: the demo gives every patient the same few.)
            phi |= {row["patient_name"], row["mrn"]}
    return {p for p in phi if p}


async def _reuse_tab(base_url: str, conversation_id: int, body: str
                     ) -> tuple[set[str], list[str]]:
    dashboard = state_full_name(DASHBOARD)
    token = str(uuid.uuid4())
    provider_cookie = login(base_url, PROVIDER, DEMO_PASSWORD)
    provider = ReflexClient(base_url, cookie=provider_cookie, path="/dashboard", token=token)
    await provider.connect()  # hydrate runs the page's on_load (the list loads)
    await _until(lambda: provider.var(dashboard, "conversations"))
    await provider.emit(f"{dashboard}.open_conversation", {"conversation_id": conversation_id})
    await _until(lambda: body in json.dumps(provider.var(dashboard, "messages")))
    phi = _provider_phi(provider) | {body}
    await provider.disconnect()
    _logout(base_url, provider_cookie)

    # The same tab token, a new user's cookie: what a shared workstation's tab does.
    patient_cookie = login(base_url, PATIENT, DEMO_PASSWORD)
    frames: list[str] = []
    patient = ReflexClient(base_url, cookie=patient_cookie, path="/portal", token=token,
                           on_update=lambda u: frames.append(json.dumps(u.delta)))
    await patient.connect()
    portal = state_full_name("care_messaging.pages.portal_state:PortalState")
    await _until(lambda: patient.var(portal, "list_loaded"))
    await asyncio.sleep(0.5)  # any follow-up deltas
    await patient.disconnect()
    return phi, frames


def test_reused_tab_token_gets_nothing_of_the_previous_user(app_server):
    conversation_id, body = _plant_thread(app_server)
    phi, frames = run_async(_reuse_tab(app_server.base_url, conversation_id, body))
    assert len(phi) >= 3, phi  # the provider's tab really held PHI, or this proves nothing
    assert frames, "no frames reached the second user"
    leaked = sorted(p for p in phi if any(p in frame for frame in frames))
    assert leaked == [], leaked


async def _other_cookie_same_token(base_url: str, *, token: str | None = None,
                                   second_base_url: str | None = None
                                   ) -> tuple[list[str], set[str]]:
    """No sign-out at all: a tab whose cookie now names another user must start empty.

    Returns (the provider's patients' names that reached the second user, all those names).
    """
    dashboard = state_full_name(DASHBOARD)
    token = token or str(uuid.uuid4())
    provider = ReflexClient(base_url, cookie=login(base_url, PROVIDER, DEMO_PASSWORD),
                            path="/dashboard", token=token)
    await provider.connect()
    await _until(lambda: provider.var(dashboard, "conversations"))
    names = {r["patient_name"] for r in provider.var(dashboard, "conversations")} - {PATIENT_NAME}
    await provider.disconnect()
    frames: list[str] = []
    second = second_base_url or base_url
    other = ReflexClient(second, cookie=login(second, PATIENT, DEMO_PASSWORD),
                         path="/portal", token=token,
                         on_update=lambda u: frames.append(json.dumps(u.delta)))
    await other.connect()
    portal = state_full_name("care_messaging.pages.portal_state:PortalState")
    await _until(lambda: other.var(portal, "list_loaded"))
    await asyncio.sleep(0.5)
    await other.disconnect()
    assert names
    return [n for n in names if any(n in f for f in frames)], names


def test_tab_whose_cookie_names_another_user_starts_empty(app_server):
    leaked, _names = run_async(_other_cookie_same_token(app_server.base_url))
    assert leaked == []


async def _hydrate_after_sign_out(base_url: str, conversation_id: int, body: str,
                                  sign_out_url: str = "") -> list[str]:
    """The tab's socket stays open (it still presents the old cookie) while its session is
    signed out elsewhere (``sign_out_url``: another server of the app); a hydrate on that
    socket must find nothing left to send."""
    dashboard = state_full_name(DASHBOARD)
    cookie = login(base_url, PROVIDER, DEMO_PASSWORD)
    tab = ReflexClient(base_url, cookie=cookie, path="/dashboard")
    await tab.connect()
    await _until(lambda: tab.var(dashboard, "conversations"))
    await tab.emit(f"{dashboard}.open_conversation", {"conversation_id": conversation_id})
    await _until(lambda: body in json.dumps(tab.var(dashboard, "messages")))
    await asyncio.to_thread(_logout, sign_out_url or base_url, cookie)
    frames: list[str] = []
    tab.on_update = lambda u: frames.append(json.dumps(u.delta))
    await tab.emit(HYDRATE, {})
    await _until(lambda: frames)
    await asyncio.sleep(0.5)
    await tab.disconnect()
    return frames


def test_sign_out_empties_the_server_state_of_the_sessions_tabs(app_server):
    conversation_id, body = _plant_thread(app_server)
    frames = run_async(_hydrate_after_sign_out(app_server.base_url, conversation_id, body))
    joined = "\n".join(frames)
    assert body not in joined
    assert "Dr. Jordan Lee" not in joined  # not even the signed-out user's own name


def test_browser_tab_signed_in_again_carries_nothing_of_the_first_user(new_context, app_server):
    conversation_id, body = _plant_thread(app_server)
    page = new_context().new_page()
    frames: list[str] = []
    recording = {"on": False}

    def on_socket(ws) -> None:
        ws.on("framereceived", lambda f: frames.append(str(f)) if recording["on"] else None)

    page.on("websocket", on_socket)
    sign_in(page, PROVIDER)
    expect(page).to_have_url(re.compile(r"/dashboard"))
    sidebar = page.get_by_role("list", name="Conversations")
    expect(sidebar.get_by_role("listitem").first).to_be_visible()
    page.goto(f"/dashboard?c={conversation_id}")
    expect(page.get_by_role("log", name="Messages")).to_contain_text(body)
    # Other patients in the provider's list: their names must not reach the patient's tab.
    names = {line.strip() for line in sidebar.inner_text().splitlines()
             if re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", line.strip())} - {PATIENT_NAME}
    assert names  # the provider's screen showed other patients, or this proves nothing
    token_before = page.evaluate("() => sessionStorage.getItem('token')")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))
    recording["on"] = True
    sign_in(page, PATIENT)
    expect(page).to_have_url(re.compile(r"/portal"))
    expect(page.get_by_role("list", name="Conversations")).to_be_visible()
    page.wait_for_timeout(1000)
    assert frames, "the patient's tab received no websocket frames"
    joined = "\n".join(frames)
    assert body not in joined
    assert sorted(n for n in names if n in joined) == []
    # The sign-out also gave the tab a fresh Reflex token (Clear-Site-Data).
    assert page.evaluate("() => sessionStorage.getItem('token')") != token_before
