"""Whether a tab's websocket is still open (on this worker or, scaled out, on another one)."""

from __future__ import annotations

import logging
import pickle

import reflex as rx

log = logging.getLogger(__name__)


def app():
    """The running Reflex app (imported late: the app module imports the pages, and they
    import this package)."""
    from care_messaging.care_messaging import app as reflex_app

    return reflex_app


async def is_connected(app, token: str) -> bool:
    """Whether a tab's websocket is open on some worker.

    A closed tab's state lingers in the state manager; running the page's live handler on it
    would mark messages delivered or read that nobody saw. Reflex keeps the token -> socket
    map on its token manager (locally, and in Redis when scaled out).
    """
    manager = getattr(app.event_namespace, "_token_manager", None)
    if manager is None:  # an unknown Reflex internals layout: deliver rather than drop
        return True
    if token in manager.token_to_socket:
        return True
    owner = getattr(manager, "_get_token_owner", None)
    return owner is not None and await owner(token, refresh=True) is not None


async def owners(app, tokens: list[str]) -> dict[str, str]:
    """Which worker holds each of these tabs' websocket (Reflex's token-manager instance id),
    in one Redis round trip (an MGET of Reflex's socket records) instead of one per tab.
    Tabs with no open socket anywhere are left out."""
    manager = getattr(app.event_namespace, "_token_manager", None)
    if manager is None:  # an unknown Reflex internals layout: deliver here rather than drop
        return dict.fromkeys(tokens, "")
    # This worker's own tabs need no record (owners_from_records finds them locally).
    records: dict[str, bytes | None] = dict.fromkeys(tokens)
    elsewhere = [t for t in tokens if t not in manager.token_to_socket]
    redis = getattr(manager, "redis", None)
    key = getattr(manager, "_get_redis_key", None)
    if elsewhere and redis is not None and key is not None:
        try:
            records.update(zip(elsewhere, await redis.mget([key(t) for t in elsewhere]),
                               strict=True))
        except Exception:
            log.warning("socket records unavailable: checking tabs one by one", exc_info=True)
            found = owners_from_records(app, dict.fromkeys(
                t for t in tokens if t in manager.token_to_socket))
            for token in elsewhere:
                if await is_connected(app, token):
                    found[token] = ""
            return found
    return owners_from_records(app, records)


def socket_record_prefix(app) -> str:
    """The prefix of Reflex's socket-record keys in Redis ("" when not scaled out, or with
    an unknown Reflex internals layout: then ``owners`` looks the tabs up)."""
    manager = getattr(app.event_namespace, "_token_manager", None)
    if getattr(manager, "redis", None) is None:
        return ""
    prefix = getattr(manager, "_token_socket_record_prefix", "")
    return prefix if isinstance(prefix, str) else ""


def owners_from_records(app, records: dict[str, bytes | None]) -> dict[str, str]:
    """``owners`` from tabs' socket records already read (token -> the record's bytes, empty
    or None for none). Tabs with no open socket anywhere are left out."""
    manager = getattr(app.event_namespace, "_token_manager", None)
    own = getattr(manager, "instance_id", "")
    local = getattr(manager, "token_to_socket", {})
    found: dict[str, str] = {}
    for token, raw in records.items():
        if token in local:
            found[token] = own
            continue
        # A record naming this worker without a local socket is a leftover of a closed one
        # (Reflex's own reading of these records, _fetch_socket_record).
        instance = getattr(pickle.loads(raw), "instance_id", None) if raw else None
        if instance and instance != own:
            found[token] = instance
    return found


def own_instance_id() -> str:
    """This worker's id among the app's workers ("" without a running server)."""
    manager = getattr(app().event_namespace, "_token_manager", None)
    return getattr(manager, "instance_id", "") if manager is not None else ""


async def is_tab_connected(token: str) -> bool:
    """Whether this browser tab still has a live websocket (on any worker)."""
    running = app()
    return running.event_namespace is not None and await is_connected(running, token)


def state_class(state_name: str):
    try:
        return rx.State.get_class_substate(tuple(state_name.split(".")[1:]))
    except ValueError:
        return None
