"""A protocol-level Reflex client: what a browser tab does, without the browser.

1. Sign in over HTTP (``POST /api/auth/login`` with form fields email/password) and keep the
   HttpOnly ``care_session`` cookie.
2. Open the Socket.IO connection Reflex 0.10 uses: path ``/_event``, namespace ``/_event``,
   websocket transport, query ``token=<tab token>``, the cookie in the handshake headers, and
   the hydrate event in the CONNECT ``auth`` packet (``{"event": {...}}``), as
   ``.web/utils/state.js`` does.
3. Send events as ``emit("event", {"name", "payload", "router_data"})``, where ``name`` is
   ``<full state name>.<handler>``, e.g.
   ``reflex___state____state.care_messaging___state___auth____auth_state.``
   ``care_messaging___pages___dashboard____dashboard_state.load``.
4. Receive ``"event"`` packets ``{"delta": {state_name: {var: value}}, "events": [...]}`` and
   merge the deltas into ``self.state`` (the tab's view of its vars).

State names are computed by importing the page module and asking Reflex
(``StateClass.get_full_name()``), so they follow renames instead of being hard-coded.
"""

from __future__ import annotations

import asyncio
import importlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio

ROOT_STATE = "reflex___state____state"
HYDRATE = f"{ROOT_STATE}.hydrate_and_load"
SESSION_COOKIE = "care_session"


def state_full_name(dotted: str) -> str:
    """``package.module:ClassName`` -> Reflex's full state name (imports the module)."""
    module_name, _, class_name = dotted.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls.get_full_name()


def login(base_url: str, email: str, password: str) -> str:
    """Sign in through the form route; returns the session cookie value."""
    response = httpx.post(f"{base_url}/api/auth/login",
                          data={"email": email, "password": password},
                          follow_redirects=False, timeout=30)
    token = response.cookies.get(SESSION_COOKIE)
    if not token:
        raise RuntimeError(f"login failed for {email}: {response.status_code} "
                           f"{response.headers.get('location')}")
    return token


@dataclass
class Update:
    at: float
    delta: dict[str, dict[str, Any]]
    events: list[Any]


@dataclass
class ReflexClient:
    base_url: str
    cookie: str | None = None
    path: str = "/dashboard"
    token: str = field(default_factory=lambda: str(uuid.uuid4()))
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    updates: list[Update] = field(default_factory=list)
    keep_updates: bool = True
    on_update: Callable[[Update], None] | None = None

    def __post_init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("event", self._on_event, namespace="/_event")
        self._waiters: list[tuple[Callable[[dict], bool] | None, asyncio.Future]] = []

    def router_data(self) -> dict[str, Any]:
        return {"pathname": self.path, "asPath": self.path}

    def event(self, name: str, payload: dict | None = None) -> dict[str, Any]:
        return {"name": name, "payload": payload or {}, "router_data": self.router_data()}

    async def connect(self, *, hydrate: bool = True) -> None:
        ws_url = self.base_url.replace("http", "ws", 1) + f"?token={self.token}"
        headers = {"Cookie": f"{SESSION_COOKIE}={self.cookie}"} if self.cookie else {}
        auth = {"event": self.event(HYDRATE, {})} if hydrate else None
        await self.sio.connect(ws_url, headers=headers, transports=["websocket"],
                               socketio_path="/_event", namespaces=["/_event"], auth=auth,
                               wait_timeout=30)

    async def disconnect(self) -> None:
        await self.sio.disconnect()

    async def emit(self, name: str, payload: dict | None = None) -> None:
        await self.sio.emit("event", self.event(name, payload), namespace="/_event")

    async def _on_event(self, data: Any) -> None:
        now = time.perf_counter()
        if isinstance(data, str):
            import json

            data = json.loads(data)
        delta = data.get("delta") or {}
        for state_name, vars_ in delta.items():
            self.state.setdefault(state_name, {}).update(vars_)
        update = Update(now, delta, data.get("events") or [])
        if self.keep_updates:
            self.updates.append(update)
        if self.on_update is not None:
            self.on_update(update)
        for predicate, future in list(self._waiters):
            if not future.done() and (predicate is None or predicate(delta)):
                future.set_result(now)
                self._waiters.remove((predicate, future))

    async def wait_for(self, predicate: Callable[[dict], bool] | None,
                       timeout: float = 10.0) -> float:
        """Wait for a delta matching ``predicate`` (None: any update, even one carrying only
        events such as a redirect); returns its perf_counter arrival time."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        return await asyncio.wait_for(future, timeout)

    def var(self, state_name: str, name: str, default: Any = None) -> Any:
        """A var's current value; Reflex may suffix var names (``name_rx_state_``)."""
        vars_ = self.state.get(state_name, {})
        if name in vars_:
            return vars_[name]
        for key, value in vars_.items():
            if key.startswith(name + "_rx_state_") or key == f"{name}_rx_state_":
                return value
        return default

    async def call(self, name: str, payload: dict | None = None, *,
                   until: Callable[[dict], bool] | None = None, timeout: float = 10.0) -> float:
        """Emit an event and wait for the first update (or a delta matching ``until``).

        Returns the round trip in milliseconds.
        """
        t = time.perf_counter()
        waiter = asyncio.ensure_future(self.wait_for(until, timeout))
        await asyncio.sleep(0)
        await self.emit(name, payload)
        arrived = await waiter
        return (arrived - t) * 1000
