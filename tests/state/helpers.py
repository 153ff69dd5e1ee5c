"""Call Reflex event handlers directly, with forged router data (cookie, ip, path)."""

from __future__ import annotations

import inspect
from typing import Any

import reflex as rx
from reflex.istate.data import RouterData
from reflex.state import _resolve_delta

from care_messaging.services import auth as auth_service


def make_state(state_cls: type[rx.State], *, token: str | None = None, cookie: str | None = None,
               path: str = "/", query: str = "") -> Any:
    """A fresh state tree with ``state_cls`` ready, as if a browser tab sent this cookie."""
    root = rx.State(_reflex_internal_init=True)
    header = cookie if cookie is not None else (
        f"{auth_service.SESSION_COOKIE}={token}" if token else ""
    )
    router_data = {
        "headers": {"cookie": header, "host": "localhost"},
        "ip": "198.51.100.7",
        "pathname": path,
        "asPath": path + (f"?{query}" if query else ""),
        "query": dict(p.split("=", 1) for p in query.split("&") if "=" in p),
    }
    root.router_data = router_data
    root.router = RouterData.from_router_data(router_data)
    state = root
    for part in state_cls.get_full_name().split(".")[1:]:
        state = state.substates[part]
    return state


async def hydrate(state: Any) -> Any:
    """What a tab's connection does before the page's load (``State.hydrate_and_load``): the
    full snapshot of its tree, ``dict()``, which stores every var of every state. Returns the
    root of the tree."""
    root = state
    while root.parent_state is not None:
        root = root.parent_state
    await _resolve_delta(root.dict())
    root._clean()
    return root


async def call(state: Any, handler: str, *args: Any) -> list[Any]:
    """Run a handler (sync, async, or generator) and collect whatever it returns or yields."""
    result = getattr(type(state), handler).fn(state, *args)
    if inspect.isasyncgen(result):
        return [item async for item in result]
    if inspect.isgenerator(result):
        return list(result)
    if inspect.isawaitable(result):
        result = await result
    if result is None:
        return []
    return list(result) if isinstance(result, list | tuple) else [result]


def redirect_path(events: list[Any]) -> str | None:
    """The path of the first redirect among returned events, if any."""
    for event in events:
        handler = getattr(event, "handler", None)
        if handler is not None and "_redirect" in repr(handler.fn):
            for name, value in event.args:
                if getattr(name, "_js_expr", "") == "path":
                    return value._var_value
    return None


def sign_in_token(session, email: str, password: str) -> str:
    result = auth_service.login(session, email=email, password=password)
    session.commit()
    token, _ = auth_service.exchange_handoff(session, ticket=result.ticket)
    session.commit()
    return token


async def deliver(state, event) -> None:
    """What realtime/delivery.py's ``_deliver`` does for a tab: phase one, then the (coalesced) follow-up."""
    if await state._apply_live_event(event):
        await state._after_live_events([event])


def thread(state) -> list[dict[str, str]]:
    """All rows of the open thread as shown: the settled rows, then the tail of new ones."""
    return [*state.messages, *state.recent]
