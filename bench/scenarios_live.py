"""Scenarios against the running app over Reflex's websocket protocol (and the browser).

- harness_check: sign in as the bench provider, hydrate /dashboard, send the page's ``load``
  event; the delta must carry ``user_name == "Dr. Jordan Lee"``. Round trips timed.
- memory: 500 idle connected, hydrated sessions; backend RSS growth per session (/proc).
- delivery_latency / sustained_sends / browser_delivery: driven through bench/hooks.py; they
  report ``met: null`` with "pending page handlers" until the page states define the handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlmodel import select

from bench import hooks
from bench.stats import result, summary
from bench.ws_client import ReflexClient, login, state_full_name

PASSWORD = "CareDemo!2026"


def pending(unit: str, target: float, hook_names: list[str], **extra) -> dict:
    return result(None, unit, target, samples=0,
                  note="pending page handlers: " + ", ".join(hook_names), **extra)


async def harness_check(base_url: str, plan, samples: int = 50) -> dict:
    cookie = login(base_url, plan.provider_email, PASSWORD)
    dashboard = state_full_name(hooks.PROVIDER_PAGE.state)
    auth = dashboard.rsplit(".", 1)[0]
    client = ReflexClient(base_url, cookie=cookie, path=hooks.PROVIDER_PAGE.path)
    t = time.perf_counter()
    await client.connect()
    await client.wait_for(lambda d: ROOT_HYDRATED(d), timeout=20)
    hydrate_ms = (time.perf_counter() - t) * 1000
    rtts = []
    for _ in range(samples):
        # load always changes the dashboard state (a fresh compose id), so its delta comes back
        rtts.append(await client.call(f"{dashboard}.load",
                                      until=lambda d: dashboard in d, timeout=10))
    name = client.var(auth, "user_name")
    await client.disconnect()
    s = summary(rtts)
    rec = result(s["p50"], "ms", None, samples=len(rtts), **s, hydrate_ms=round(hydrate_ms, 2),
                 event=f"{dashboard}.load", user_name=name)
    rec["met"] = name == "Dr. Jordan Lee"
    rec["note"] = "protocol client: HTTP login + socket.io /_event + hydrate + load event"
    return rec


def ROOT_HYDRATED(delta: dict) -> bool:
    root = delta.get("reflex___state____state", {})
    return any(k.startswith("is_hydrated") and v for k, v in root.items())


async def memory(server, plan, sessions: int = 500, batch: int = 50,
                 hydrate: bool = True) -> dict:
    """RSS growth per connected idle tab. ``hydrate=False`` opens bare sockets (no state
    tree), which splits the cost between transport (socket.io/engine.io/Granian) and state."""
    base_url = server.base_url
    cookie = login(base_url, plan.provider_email, PASSWORD)
    path = hooks.PROVIDER_PAGE.path

    async def open_one() -> ReflexClient:
        c = ReflexClient(base_url, cookie=cookie, path=path, keep_updates=False)
        await c.connect(hydrate=hydrate)
        if hydrate:
            await c.wait_for(ROOT_HYDRATED, timeout=60)
        return c

    warm = [await open_one() for _ in range(5)]
    await asyncio.sleep(2)
    gc.collect()
    before = server.rss_kb()
    clients: list[ReflexClient] = []
    t = time.perf_counter()
    for i in range(0, sessions, batch):
        clients += await asyncio.gather(*(open_one() for _ in range(min(batch, sessions - i))))
    connect_s = time.perf_counter() - t
    await asyncio.sleep(3)
    after = server.rss_kb()
    for c in clients + warm:
        with contextlib.suppress(Exception):
            await c.disconnect()
    per_session = (after - before) / sessions
    return result(per_session, "KB/session", 100.0, samples=sessions, measure="RSS growth",
                  rss_before_kb=before, rss_after_kb=after, connect_seconds=round(connect_s, 1),
                  profile="bench/profiles/memory.md",
                  note="idle hydrated /dashboard tabs (one signed-in provider); RSS of the "
                       "backend process tree from /proc/<pid>/status VmRSS")


MARK = re.compile(r"bnch-([0-9a-f]{8})-(-?\d+)")
WARMUP = 20


class Pair:
    """A sender tab and a receiver tab on the same conversation."""

    def __init__(self, base_url: str, sender_cookie: str, receiver_cookie: str,
                 conversation_id: int, run_id: str) -> None:
        self.sender = ReflexClient(base_url, cookie=sender_cookie,
                                   path=hooks.PATIENT_PAGE.path, keep_updates=False)
        self.receiver = ReflexClient(base_url, cookie=receiver_cookie,
                                     path=hooks.PROVIDER_PAGE.path, keep_updates=False)
        self.conversation_id = conversation_id
        self.run_id = run_id
        self.arrived: dict[int, float] = {}
        self.receiver.on_update = self._on_update

    def _on_update(self, update) -> None:
        text = json.dumps(update.delta)
        for run, index in MARK.findall(text):
            if run == self.run_id:
                self.arrived.setdefault(int(index), update.at)

    async def open(self) -> None:
        for client, hook in ((self.sender, hooks.PATIENT_PAGE),
                             (self.receiver, hooks.PROVIDER_PAGE)):
            name = state_full_name(hook.state)
            await client.connect()
            await client.wait_for(ROOT_HYDRATED, timeout=30)
            await client.call(f"{name}.{hook.open_conversation}",
                              {hook.open_key: self.conversation_id}, timeout=30)

    async def send(self, index: int) -> float:
        hook = hooks.PATIENT_PAGE
        payload = {hook.body_key: f"Latency probe bnch-{self.run_id}-{index}"}
        if hook.client_id_key:
            payload[hook.client_id_key] = uuid.uuid4().hex
        t = time.perf_counter()
        if hook.form_key:
            payload = {hook.form_key: payload}
        await self.sender.emit(f"{state_full_name(hook.state)}.{hook.send_message}", payload)
        return t

    async def close(self) -> None:
        for c in (self.sender, self.receiver):
            with contextlib.suppress(Exception):
                await c.disconnect()


def _pairs(base_url: str, plan, count: int, run_id: str, *,
           own_providers: bool = False) -> list[Pair]:
    """Patient i sends in one of their conversations; the receiver is the bench provider's
    tab, or with ``own_providers`` a provider of that patient's own (one per pair, see
    ``pair_providers``), so the pairs are independent as the sustained scenario asks."""
    receivers = pair_providers(count) if own_providers else [plan.provider_email] * count
    conversation_ids = [sender_conversation(email) for email in plan.patient_emails[:count]]
    cookies = {r: login(base_url, r, PASSWORD) for r in dict.fromkeys(receivers)}
    return [Pair(base_url, login(base_url, email, PASSWORD), cookies[receiver], cid, run_id)
            for email, receiver, cid in zip(plan.patient_emails[:count], receivers,
                                            conversation_ids, strict=True)]


def sender_conversation(patient_email: str) -> int:
    """The bench patient's first conversation, reopened on the run's own copy if completed
    (a patient cannot reply in a completed conversation). Committed before any login:
    SQLite has one writer."""
    from care_messaging.db import session_scope
    from care_messaging.models import Conversation, ConversationStatus, Patient, User

    with session_scope() as session:
        conversation = session.exec(select(Conversation).join(
            Patient, Patient.id == Conversation.patient_id).join(
            User, User.id == Patient.user_id).where(User.email == patient_email).order_by(
            Conversation.id)).first()
        if conversation.status == ConversationStatus.COMPLETED:
            conversation.status = ConversationStatus.ACTIVE
            session.add(conversation)
        return conversation.id


def pair_providers(count: int) -> list[str]:
    """``count`` providers, each on the care team of bench patient i (created on the run's
    database copy the first time): 20 clinicians each answering one patient."""
    from care_messaging.db import session_scope
    from care_messaging.models import CareTeamMember, Patient, Provider, Role, User
    from care_messaging.services.passwords import hash_password

    emails = [f"pair.provider{i}@bench.care" for i in range(count)]
    with session_scope() as session:
        existing = set(session.exec(select(User.email).where(User.email.in_(emails))).all())
        password_hash = hash_password(PASSWORD) if len(existing) < count else ""
        for i, email in enumerate(emails):
            if email in existing:
                continue
            user = User(email=email, display_name=f"Dr. Pair {i}", role=Role.PROVIDER,
                        password_hash=password_hash)
            session.add(user)
            session.flush()
            provider = Provider(user_id=user.id, title="MD", specialty="Family medicine")
            session.add(provider)
            session.flush()
            patient_id = session.exec(select(Patient.id).join(
                User, User.id == Patient.user_id).where(
                User.email == f"bench.patient{i}@bench.care")).one()
            session.add(CareTeamMember(patient_id=patient_id, provider_id=provider.id))
    return emails


async def _open_loop(pairs: list[Pair], rate: float, total: int,
                     on_sent: Callable[[int, int, float], None], first: int = 0) -> None:
    """Send ``total`` messages round-robin over pairs at ``rate``/s, not waiting for replies.

    Message ``first + i`` goes at ``start + i / rate`` (open loop: a slow server does not slow
    the senders down, so queueing shows up as latency instead of being hidden).
    """
    start = time.perf_counter()
    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        pair = pairs[i % len(pairs)]

        async def go(pair=pair, index=first + i):
            on_sent(id(pair), index, await pair.send(index))

        tasks.append(asyncio.ensure_future(go()))
    await asyncio.gather(*tasks)


async def delivery_latency(base_url: str, plan, messages: int = 300, rate: float = 20) -> dict:
    missing = hooks.missing_handlers(hooks.PROVIDER_PAGE) + hooks.missing_handlers(
        hooks.PATIENT_PAGE)
    if missing:
        return pending("ms", 15.0, sorted(set(missing)), target_p99=60.0)
    run_id = uuid.uuid4().hex[:8]
    (pair,) = _pairs(base_url, plan, 1, run_id)
    await pair.open()
    # Warm-up (not counted): first-use imports and SQL compilation caches on the server.
    await _open_loop([pair], rate, WARMUP, lambda *_: None, first=-WARMUP)
    await asyncio.sleep(1)
    sent: dict[int, float] = {}
    await _open_loop([pair], rate, messages, lambda _p, i, t: sent.__setitem__(i, t))
    await asyncio.sleep(2)
    await pair.close()
    lat = [(pair.arrived[i] - t) * 1000 for i, t in sent.items() if i in pair.arrived]
    lost = messages - len(lat)
    if not lat:
        rec = result(None, "ms", 15.0, samples=0, note="no message reached the receiver")
        rec["met"] = False
        return rec
    s = summary(lat)
    rec = result(s["p50"], "ms", 15.0, samples=len(lat), **s, lost=lost, target_p99=60.0,
                 rate_per_s=rate)
    rec["met"] = s["p50"] <= 15.0 and s["p99"] <= 60.0 and lost == 0
    return rec


# The later half of a step's messages waiting this much longer (median) than the first half
# means the server is falling behind: a growing queue, not a steady one.
BACKLOG_GROWTH_MS = 100.0


async def sustained(base_url: str, plan, pairs_n: int = 20,
                    rates: tuple[int, ...] = (10, 50, 100, 150, 200, 250, 300, 400, 500, 600,
                                              800),
                    step_seconds: float = 5.0, server=None) -> dict:
    """Rising open-loop rates over 20 independent pairs. Each step also records how busy the
    server's process tree and this client process were (percent of one core), which tells a
    saturated server from a saturated load generator."""
    missing = hooks.missing_handlers(hooks.PROVIDER_PAGE) + hooks.missing_handlers(
        hooks.PATIENT_PAGE)
    if missing:
        return pending("msg/s", 300.0, sorted(set(missing)))
    run_id = uuid.uuid4().hex[:8]
    pairs = _pairs(base_url, plan, pairs_n, run_id, own_providers=True)
    for p in pairs:
        await p.open()
    steps, best = [], 0
    offset = 0
    for rate in rates:
        total = int(rate * step_seconds)
        sent: dict[int, tuple[Pair, float]] = {}
        def record(pid: int, index: int, at: float, sent=sent) -> None:
            sent[index] = (next(p for p in pairs if id(p) == pid), at)

        wall, client_cpu = time.perf_counter(), time.process_time()
        server_cpu = server.cpu_seconds_by_process() if server else {}
        await _open_loop(pairs, rate, total, record, first=offset)
        elapsed = time.perf_counter() - wall
        busy: dict[str, Any] = {"client_cpu_pct": round(100 * (time.process_time() - client_cpu)
                                                        / elapsed)}
        if server:
            after = server.cpu_seconds_by_process()
            used = {pid: seconds - server_cpu.get(pid, 0.0) for pid, seconds in after.items()}
            busy["server_cpu_pct"] = round(100 * sum(used.values()) / elapsed)
            # Each process that worked (the workers; a supervisor idles): an uneven split
            # saturates one worker while the other has room.
            busy["worker_cpu_pct"] = sorted((round(100 * s / elapsed) for s in used.values()
                                             if s > 0.05 * elapsed), reverse=True)
        await asyncio.sleep(2)
        timed = sorted((t, (p.arrived[i] - t) * 1000) for i, (p, t) in sent.items()
                       if i in p.arrived)
        lat = [ms for _, ms in timed]
        lost = total - len(lat)
        s = summary(lat) if lat else {"p99": None}
        # A backlog: the queue grows during the step, so the later half waits longer.
        half = len(lat) // 2
        growth = (summary(lat[half:])["p50"] - summary(lat[:half])["p50"]) if half else 0.0
        backlog = growth > BACKLOG_GROWTH_MS
        ok = bool(lat) and lost == 0 and s["p99"] < 500 and not backlog
        # When in the step the slowest were sent (seconds after its first send): a tail that
        # clusters at one instant is a stall (a sweep, a checkpoint), one spread out is load.
        start = timed[0][0] if timed else 0.0
        slowest = sorted(((ms, round(t - start, 2)) for t, ms in timed), reverse=True)[:5]
        steps.append({"rate": rate, "sent": total, "delivered": len(lat), **s, **busy,
                      "p50_growth_ms": round(growth, 1), "backlog": backlog, "ok": ok,
                      "slowest_sent_at_s": [at for _, at in slowest]})
        offset += total
        if not ok:
            break
        best = rate
    for p in pairs:
        await p.close()
    return result(best, "msg/s", 300.0, samples=offset, better="higher", measure="max rate",
                  steps=steps, note="20 independent pairs, 5 s per rate; a rate passes with "
                  "p99 < 500 ms, nothing lost, and no backlog (the step's later half not "
                  f"waiting > {BACKLOG_GROWTH_MS:.0f} ms longer, median, than its first)")


def browser_delivery(base_url: str | None, plan, samples: int = 30) -> dict:
    missing = hooks.missing_handlers(hooks.PROVIDER_PAGE) + hooks.missing_handlers(
        hooks.PATIENT_PAGE)
    if missing or base_url is None:
        note = sorted(set(missing)) or ["run with --frontend"]
        return pending("ms", 40.0, note)
    from bench.browser import run_browser_delivery

    return run_browser_delivery(base_url, plan, samples)


def browser_list_load(base_url: str | None, plan, samples: int = 20) -> dict:
    """Dashboard page load to the first conversation rows in the DOM (pending the dashboard)."""
    missing = hooks.missing_handlers(hooks.PROVIDER_PAGE)
    if missing or base_url is None:
        return pending("ms", 300.0, sorted(set(missing)) or ["run with --frontend"])
    from bench.browser import run_list_load

    return run_list_load(base_url, plan, samples)


def browser_thread_open(base_url: str | None, plan, samples: int = 20) -> dict:
    """The 5,000-message thread opened in the browser: first screen of messages shown."""
    if base_url is None:
        return pending("ms", 200.0, ["run with --frontend"])
    from bench.browser import run_thread_open

    return run_thread_open(base_url, plan, samples)


# The quiet spells around the measured sends in ``cpu_per_message`` outlast a Reflex lease
# scaled out (rxconfig.OPLOCK_HOLD_MS, 5 s): a tab's lease is written back to Redis when its
# hold ends, so the leases taken while the tabs connected and warmed up are written back before
# the window (with a shorter spell, every tab's hydrate lease, twelve states, was counted as a
# cost of the messages), and each lease the window's messages took is written back inside it.
QUIET_SECONDS = 6.0


async def cpu_per_message(base_url: str, plan, server, pairs_n: int = 10, rate: float = 50,
                          seconds: float = 6.0) -> dict:
    """Server CPU (user + system, the whole process tree: every worker) per delivered message,
    at a fixed open-loop rate over independent pairs, the coalesced follow-ups (read and
    delivered marks, list refreshes) and the Redis lease write-backs included: a quiet spell
    after the last send lets them run before the CPU is read (``QUIET_SECONDS``). Measured in
    CPU time, not latency: on a shared machine it moves far less."""
    run_id = uuid.uuid4().hex[:8]
    pairs = _pairs(base_url, plan, pairs_n, run_id, own_providers=True)
    for p in pairs:
        await p.open()
    await _open_loop(pairs, rate, WARMUP * 2, lambda *_: None, first=-WARMUP * 2)
    await asyncio.sleep(QUIET_SECONDS)
    total = int(rate * seconds)
    sent: dict[int, tuple[Pair, float]] = {}

    def record(pid: int, index: int, at: float) -> None:
        sent[index] = (next(p for p in pairs if id(p) == pid), at)

    cpu0, wall0 = server.cpu_seconds(), time.perf_counter()
    await _open_loop(pairs, rate, total, record)
    await asyncio.sleep(QUIET_SECONDS)
    cpu, wall = server.cpu_seconds() - cpu0, time.perf_counter() - wall0
    delivered = sum(1 for i, (p, _) in sent.items() if i in p.arrived)
    for p in pairs:
        await p.close()
    per_message = round(cpu * 1000 / delivered, 2) if delivered else None
    return result(per_message, "ms CPU/msg", None, samples=delivered, measure="CPU per message",
                  lost=total - delivered, rate_per_s=rate, server_cpu_s=round(cpu, 2),
                  server_cpu_pct=round(100 * cpu / wall), workers=server.workers,
                  note=f"{pairs_n} independent pairs at {rate:.0f} msg/s for {seconds:.0f} s "
                  f"and {QUIET_SECONDS:.0f} s of follow-ups and lease write-backs; server CPU of "
                  "all workers / messages delivered")
