"""Nothing blocks the event loop: a real server reports every step of its loop that held the
loop longer than 0.15 s (its own CPU plus the time it sat blocked, not the time it waited for a
CPU on this shared machine: ``loop_debug_app``), and this test fails on any.

The loop carries every websocket: one blocking call in the sign-in route (an argon2 hash on
the loop, a database round trip) or in the live path (a send, its delivery to the other tab,
the follow-up's read marks and list refresh) stalls every user of that worker. The script
runs a short exchange between a patient's and a provider's tab while failed and successful
sign-ins go on, then reads the server's log. A first exchange warms the server up (imports,
statement caches) and is not judged.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.ws_client import ReflexClient, state_full_name
from care_messaging.services.actors import actor_for_user
from care_messaging.services.conversations import create_conversation
from tests.factories import PASSWORD, add_to_team, make_patient, make_provider
from tests.security.edge_server import EdgeServer

DASHBOARD = "care_messaging.pages.dashboard:DashboardState"
PORTAL = "care_messaging.pages.portal:PortalState"
SLOW_STEP = re.compile(r"Blocking step (.+?) took (\d+\.\d+) seconds")
FAILED_SIGN_INS = 12


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeServer]:
    # asyncio's own loop (uvloop's handles are not Python objects to time).
    server = EdgeServer(tmp_path_factory.mktemp("loop-debug"), loop="asyncio",
                        app="tests.security.loop_debug_app:app").start()
    yield server
    server.stop()


def _people(server: EdgeServer) -> tuple[str, str, int]:
    with server.db() as s:
        provider_user, provider = make_provider(s, "Dr. Loop")
        patient_user, patient = make_patient(s, "Lola", "Looptest")
        add_to_team(s, patient, provider)
        conversation, _ = create_conversation(
            s, reason="Test follow-up", actor=actor_for_user(s, patient_user), patient_id=None,
            topic="Loop", body="first")
        s.commit()  # the test is the caller: its unit of work commits
        return provider_user.email, patient_user.email, conversation.id


def _slow_steps(server: EdgeServer) -> list[tuple[str, float]]:
    return [(what, float(took)) for what, took in SLOW_STEP.findall(server.log.read_text())]


def test_sign_ins_and_a_live_exchange_never_block_the_loop(debug_server: EdgeServer):
    server = debug_server
    provider_email, patient_email, conversation_id = _people(server)
    provider_cookie = server.session_cookie(provider_email, PASSWORD, ip="127.0.0.71")
    patient_cookie = server.session_cookie(patient_email, PASSWORD, ip="127.0.0.72")
    dashboard, portal = state_full_name(DASHBOARD), state_full_name(PORTAL)
    before = 0

    def fail_once(i: int) -> None:
        # Each from its own address: the per-address limit lets them all hash.
        server.sign_in(f"nobody{i}@loop.test", "wrong", ip=f"127.0.1.{10 + i}")

    async def exchange() -> list[str]:
        nonlocal before
        provider = ReflexClient(server.ws_base, cookie=provider_cookie, path="/dashboard",
                                keep_updates=False)
        patient = ReflexClient(server.ws_base, cookie=patient_cookie, path="/portal",
                               keep_updates=False)
        seen: list[str] = []
        provider.on_update = lambda update: seen.append(json.dumps(update.delta))
        for client, name in ((provider, dashboard), (patient, portal)):
            await client.connect()
            await client.call(f"{name}.load", timeout=30)
            await client.call(f"{name}.open_conversation",
                              {"conversation_id": str(conversation_id)}, timeout=30)

        async def send(i: int) -> None:
            body = f"loop probe {uuid.uuid4().hex[:8]} {i}"
            await patient.call(f"{portal}.send_reply", {"form_data": {
                "body": body, "client_msg_id": uuid.uuid4().hex,
                "conversation_id": str(conversation_id)}}, timeout=30)
            await provider.wait_for(lambda delta: body in json.dumps(delta), timeout=30)

        await send(-1)  # warm-up: first use of the send path's imports and statements
        await asyncio.sleep(1.5)
        before = len(_slow_steps(server))
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=FAILED_SIGN_INS + 1) as pool:
            storm = [loop.run_in_executor(pool, fail_once, i) for i in range(FAILED_SIGN_INS)]
            storm.append(loop.run_in_executor(pool, functools.partial(
                server.session_cookie, provider_email, PASSWORD, ip="127.0.0.73")))
            for i in range(5):
                await send(i)
            await asyncio.gather(*storm)
        await asyncio.sleep(1.5)  # the coalesced follow-ups (read marks, list) run too
        for client in (provider, patient):
            await client.disconnect()
        return seen

    seen = asyncio.run(exchange())
    assert any("loop probe" in delta for delta in seen)
    slow = _slow_steps(server)[before:]
    assert not slow, f"blocking steps on the server's event loop: {slow}"
    # The sign-in route was timed too: it answered the storm (no step above blocked).
