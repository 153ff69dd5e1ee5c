"""Bytes each hydrated /dashboard tab of one provider keeps in the server, without a server.

    python -m bench.state_memory [TABS] [--warm N] [--all] [--json]

The ``memory`` scenario measures RSS of a running server (transport included, noisy); this
measures the state alone, deterministically: a throwaway SQLite clinic (one provider, 40
patients, one conversation each), then TABS state trees built the way a browser tab gets one
(the whole tree of every page's state, as Reflex's memory state manager builds it; the hydrate
snapshot, ``dict()``, which stores every var of every state; ``DashboardState.load`` and its
delta), each with its own Reflex token. tracemalloc measures what the TABS trees retain after
``--warm`` tabs (default 20) already filled the caches; the table lists, per var of one tab,
the bytes no other tab shares (``sys.getsizeof``, deep), and each state's own cost (object,
``__dict__``, Reflex's per-state sets).

Only public APIs of the app and of tests/factories.py are used, so an older checkout is
measured the same way: ``cd <checkout> && python <this file>`` (its own code, schema and
migrations). bench/profiles/memory.md has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import sys
import tempfile
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

PATIENTS = 40


def _environment() -> None:
    """A throwaway data dir, key and database, set before any app module is imported."""
    tmp = Path(tempfile.mkdtemp(prefix="care-state-memory-"))
    os.environ.update({
        "CARE_ENV": "test",
        "CARE_DATA_DIR": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp / 'care.db'}",
        "CARE_ENCRYPTION_KEYS": "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "CARE_ATTACHMENT_DIR": str(tmp / "attachments"),
    })
    os.environ.pop("REFLEX_REDIS_URL", None)
    os.environ.pop("CARE_REDIS_URL", None)
    sys.path.insert(0, os.getcwd())  # the checkout being measured


def _clinic() -> str:
    """One provider with PATIENTS patients, one conversation each; the provider's session."""
    from sqlmodel import Session

    from care_messaging import db
    from care_messaging.services import conversations as conv
    from tests.factories import PASSWORD, actor_of, add_to_team, make_patient, make_provider
    from tests.state.helpers import sign_in_token

    with Session(db.get_engine(), expire_on_commit=False) as session:
        user, provider = make_provider(session, "Dr. Lee")
        for i in range(PATIENTS):
            puser, patient = make_patient(session, "Pat", f"Ient{i:02d}", mrn=f"P-{100000 + i}")
            add_to_team(session, patient, provider)
            conv.create_conversation(session, actor=actor_of(session, puser),
                                     patient_id=patient.id, reason="Question",
                                     topic=f"Question {i}", body=f"Hello doctor, message {i}")
            session.commit()
        return sign_in_token(session, user.email, PASSWORD)


async def open_tab(token: str) -> Any:
    """A hydrated /dashboard tab of the signed-in provider: the root of its state tree."""
    from reflex.istate.data import RouterData
    from reflex.state import _resolve_delta

    from care_messaging.pages.dashboard import DashboardState
    from tests.state.helpers import call, make_state

    state = make_state(DashboardState, token=token, path="/dashboard")
    root = state
    while root.parent_state is not None:
        root = root.parent_state
    # A tab of its own (its Reflex token and socket id), as every browser tab has.
    root.router_data = {**root.router_data, "token": uuid.uuid4().hex, "sid": uuid.uuid4().hex}
    root.router = RouterData.from_router_data(root.router_data)
    await _resolve_delta(root.dict())  # hydrate: the full snapshot
    root._clean()
    await call(state, "load")
    await root._get_resolved_delta()
    root._clean()
    return root


def _states(root: Any) -> list[Any]:
    out = [root]
    for sub in root.substates.values():
        out.extend(_states(sub))
    return out


def _size(obj: Any, seen: set[int], shared: set[int]) -> int:
    """Deep ``getsizeof``, each object once, skipping the ids in ``shared``."""
    size, stack = 0, [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen or id(o) in shared or isinstance(o, type):
            continue
        seen.add(id(o))
        size += sys.getsizeof(o)
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple | set | frozenset):
            stack.extend(o)
    return size


_SLOTS = ("dirty_vars", "dirty_substates", "substates")


def _reachable(root: Any) -> set[int]:
    ids: set[int] = set()
    for s in _states(root):
        ids.add(id(s))
        _size(s.__dict__, ids, set())
        for slot in _SLOTS:
            _size(getattr(s, slot), ids, set())
    return ids


def own_bytes(root: Any, other: Any) -> list[tuple[int, str]]:
    """(bytes, what) of one tab that ``other`` tab does not share: each state's own cost
    (object, ``__dict__``, Reflex's per-state sets and substates dict), then each var."""
    shared = _reachable(other)
    rows = []
    for s in _states(root):
        name = type(s).__name__
        own = sys.getsizeof(s) + sys.getsizeof(s.__dict__) + sum(
            sys.getsizeof(getattr(s, slot)) for slot in _SLOTS)
        rows.append((own, f"{name}: object, __dict__ ({len(s.__dict__)} keys), sets"))
        seen: set[int] = set()
        for key, value in s.__dict__.items():
            size = _size(value, seen, shared)
            if size:
                rows.append((size, f"{name}.{key}"))
    return rows


async def measure(tabs: int, warm: int) -> dict[str, Any]:
    _environment()
    from care_messaging import db
    from care_messaging.cli import migrate

    migrate(os.environ["DATABASE_URL"])
    db.get_engine.cache_clear()
    import care_messaging.care_messaging  # noqa: F401  (every page's state, as in the app)

    token = _clinic()
    warmed = [await open_tab(token) for _ in range(warm)]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    opened = [await open_tab(token) for _ in range(tabs)]
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    retained = sum(d.size_diff for d in after.compare_to(before, "filename"))
    rows = own_bytes(opened[-1], warmed[0])
    return {
        "code": str(Path(sys.modules["care_messaging"].__file__ or "").parent.parent),
        "tabs": tabs, "warm": warm,
        "retained_bytes_per_tab": round(retained / tabs),
        "own_bytes_per_tab": sum(size for size, _ in rows),
        "states": len(_states(opened[-1])),
        "rows": sorted(rows, reverse=True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tabs", nargs="?", type=int, default=100)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--all", action="store_true", help="list every var, not only >= 100 B")
    parser.add_argument("--json", action="store_true", help="the figures as JSON, no table")
    args = parser.parse_args()
    result = asyncio.run(measure(args.tabs, args.warm))
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "rows"}))
        return
    print(f"code: {result['code']}")
    print(f"retained per hydrated tab (tracemalloc, {args.tabs} tabs after {args.warm}): "
          f"{result['retained_bytes_per_tab'] / 1024:.2f} KB")
    print(f"one tab's own bytes, shared with no other tab (getsizeof, deep; "
          f"{result['states']} states): {result['own_bytes_per_tab']} B")
    for size, label in result["rows"]:
        if size >= 100 or args.all:
            print(f"  {size:7d} B  {label}")


if __name__ == "__main__":
    main()
