"""One browser tab's server state belongs to one sign-in session, and to no one after it.

Reflex keys a tab's whole state tree by a token the browser keeps in ``sessionStorage``: it
survives a sign-out (a shared clinic workstation's tab is then signed into by someone else),
and the ``hydrate`` event sends the whole tree for that token before any page handler runs.

So every event first passes ``TabOwnerMiddleware``: the tree records (``TabOwnerState``) which
session it was built for, as a digest of the session cookie; when the cookie on the event
differs (another user, a new sign-in, no cookie at all), every state of the tab is reset to its
defaults *before* the event runs and before hydrate computes its snapshot. The check needs no
database query: the cookie header is kept server-side by Reflex for the tab's connection.

Sign-out does not wait for the tab's next event: ``wipe_session_tabs`` empties every tab built
for a session the moment it ends (the sign-out route; the idle timer; a disabled account), and
``sweep_ended_sessions`` does it for sessions that ran out while no tab was looking.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import reflex as rx
from reflex.middleware import Middleware

from care_messaging import realtime
from care_messaging.services.auth import hash_token
from care_messaging.settings import get_settings
from care_messaging.state.auth import session_token_from_cookie_header

if TYPE_CHECKING:
    from reflex.app import App
    from reflex.state import BaseState, StateUpdate
    from reflex_base.event import Event

log = logging.getLogger(__name__)

NO_SESSION = "none"  # the owner of a tab whose events carry no session cookie
SWEEP_SECONDS = 30


def owner_for_token_hash(token_hash: str) -> str:
    """The tab-owner mark of a session, from the SHA-256 the database keeps of its token.

    Derived once more (domain-separated) so the mark kept in state (in Redis when scaled out)
    is not even the database's lookup key for the session."""
    return hashlib.sha256(b"care tab owner v1:" + token_hash.encode()).hexdigest()[:40]


@functools.lru_cache(maxsize=4096)  # runs before every event; a tab's header repeats
def owner_for_cookie(cookie_header: str) -> tuple[str, str]:
    """(owner mark, token hash) for a tab's cookie header; (NO_SESSION, "") without a session."""
    token = session_token_from_cookie_header(cookie_header or "")
    if not token:
        return NO_SESSION, ""
    token_hash = hash_token(token)
    return owner_for_token_hash(token_hash), token_hash


class TabOwnerState(rx.State):
    """Which sign-in session this tab's state tree was built for (backend only, never sent)."""

    _owner: str = ""


def _state_classes(cls: type[rx.State]) -> Iterable[type[rx.State]]:
    for sub in cls.get_substates():
        yield sub
        yield from _state_classes(sub)


async def wipe_tree(root: BaseState) -> None:
    """Reset every state of the tab to its defaults (Reflex's router data is kept).

    The Redis state manager loads only the states an event needs: load all of them first, so
    a page state not touched by this event cannot keep the previous user's rows in Redis.
    """
    root = root._get_root_state()
    for cls in _state_classes(type(root)):
        await root.get_state(cls)
    root.reset()
    # Live events for the previous user must stop reaching this tab; its page registers the
    # tab again for whoever loads it next.
    tab = root.router.session.client_token
    await realtime.unregister(client_token=tab)  # redis.asyncio when scaled out


async def forget_tab(state: BaseState) -> None:
    """Empty this tab's tree now (from inside one of its handlers)."""
    root = state._get_root_state()
    await wipe_tree(root)
    mark = await root.get_state(TabOwnerState)
    mark._owner = owner_for_cookie(root.router.headers.cookie)[0]


# ----- which tabs were built for which session (for wiping them when it ends) -----

class _MemoryIndex:
    def __init__(self) -> None:
        self._tabs: dict[str, set[str]] = {}

    def add(self, token_hash: str, tab: str) -> None:
        if len(self._tabs) > 50_000:  # a bound; the sweep forgets ended sessions anyway
            self._tabs.clear()
        self._tabs.setdefault(token_hash, set()).add(tab)

    def pop(self, token_hash: str) -> set[str]:
        return self._tabs.pop(token_hash, set())

    def sessions(self) -> list[str]:
        return list(self._tabs)


class _RedisIndex:
    """``care:tabs:<session token hash>`` -> set of tab tokens, for every worker."""

    PREFIX = "care:tabs:"

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, decode_responses=True)

    def add(self, token_hash: str, tab: str) -> None:
        key = self.PREFIX + token_hash
        pipe = self._redis.pipeline()
        pipe.sadd(key, tab)
        pipe.expire(key, get_settings().absolute_session_seconds + 3600)
        pipe.execute()

    def pop(self, token_hash: str) -> set[str]:
        pipe = self._redis.pipeline()
        pipe.smembers(self.PREFIX + token_hash)
        pipe.delete(self.PREFIX + token_hash)
        return set(pipe.execute()[0])

    def sessions(self) -> list[str]:
        return [k[len(self.PREFIX):] for k in self._redis.scan_iter(self.PREFIX + "*", count=500)]


_index: _MemoryIndex | _RedisIndex | None = None


def get_index() -> _MemoryIndex | _RedisIndex:
    global _index
    if _index is None:
        url = get_settings().redis_url
        _index = _RedisIndex(url) if url else _MemoryIndex()
    return _index


async def _on_index(method: str, *args: str):
    """Call the index: Redis off the event loop, the in-process dict on it."""
    index = get_index()
    if isinstance(index, _RedisIndex):
        return await asyncio.to_thread(getattr(index, method), *args)
    return getattr(index, method)(*args)


def reset_index() -> None:
    """Forget the index (tests switch settings between runs)."""
    global _index
    _index = None


class TabOwnerMiddleware(Middleware):
    """Before every event: a tree built for another session is emptied first."""

    async def preprocess(self, app: App, state: BaseState, event: Event) -> StateUpdate | None:
        root = state._get_root_state()
        owner, token_hash = owner_for_cookie(root.router.headers.cookie)
        mark = await root.get_state(TabOwnerState)
        if mark._owner != owner:
            # Also when the mark is missing (a new tab, or its key expired in Redis before the
            # page states' did): an empty tree costs nothing to reset.
            await wipe_tree(root)
            mark._owner = owner
            if token_hash:
                tab = root.router.session.client_token
                await _on_index("add", token_hash, tab)
        return None


async def wipe_session_tabs(token_hash: str) -> int:
    """Empty every tab whose state was built for this session; returns how many."""
    from care_messaging.care_messaging import app

    if app.event_namespace is None:  # no running server (unit tests of the routes)
        return 0
    owner = owner_for_token_hash(token_hash)
    wiped = 0
    for tab in await _on_index("pop", token_hash):
        try:
            async with app.modify_state(rx.BaseStateToken(ident=tab, cls=TabOwnerState)) as root:
                mark = await root.get_state(TabOwnerState)
                if mark._owner == owner:  # the tab may already belong to a later sign-in
                    await wipe_tree(root)
                    mark._owner = ""
                    wiped += 1
        except Exception:  # one broken tab must not keep the others' PHI in place
            log.exception("wiping a signed-out tab failed")
    return wiped


async def wipe_user_tabs(user_id: int) -> int:
    """Empty the tabs of every session a user had (a disabled account)."""
    from sqlmodel import col, select

    from care_messaging.db import session_scope
    from care_messaging.models import AuthSession

    def hashes() -> list[str]:
        with session_scope() as session:
            return list(session.exec(select(AuthSession.token_hash)
                                     .where(col(AuthSession.user_id) == user_id)).all())

    wiped = 0
    for token_hash in await asyncio.to_thread(hashes):
        wiped += await wipe_session_tabs(token_hash)
    return wiped


def _ended(token_hashes: list[str]) -> list[str]:
    """Those of the sessions that are no longer valid (signed out, revoked, idle, expired)."""
    from datetime import timedelta

    from sqlmodel import col, select

    from care_messaging.db import session_scope
    from care_messaging.models import AuthSession, utcnow

    idle = timedelta(seconds=get_settings().idle_timeout_seconds)
    now = utcnow()
    live: set[str] = set()
    with session_scope() as session:
        for start in range(0, len(token_hashes), 500):
            rows = session.exec(select(AuthSession).where(
                col(AuthSession.token_hash).in_(token_hashes[start:start + 500]))).all()
            live |= {r.token_hash for r in rows if r.revoked_at is None
                     and r.expires_at > now and r.last_seen_at + idle > now}
    return [h for h in token_hashes if h not in live]


async def sweep_ended_sessions() -> None:
    """Lifespan task: empty the tabs of sessions that ended with no tab open to see it."""
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        started = time.monotonic()
        try:
            ended = await asyncio.to_thread(_ended, await _on_index("sessions"))
            for token_hash in ended:
                await wipe_session_tabs(token_hash)
        except Exception:
            log.exception("sweeping ended sessions' tabs failed")
        log.debug("tab sweep took %.3fs", time.monotonic() - started)
