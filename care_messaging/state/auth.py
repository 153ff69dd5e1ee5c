"""The signed-in user, resolved on the server from the HttpOnly session cookie.

Reflex keeps request headers server-side (the cookie header is never serialised to the
browser), so ``self.router.headers.cookie`` is the one trusted source of the acting user.
Handlers never take a user, role or patient id from the browser.
"""

from __future__ import annotations

import functools
import logging
import time
from http.cookies import CookieError, SimpleCookie

import reflex as rx

from care_messaging import db_on_loop
from care_messaging.db import check_scope
from care_messaging.navigation import LOGIN_PATH, after_sign_in, landing_for, login_url
from care_messaging.services import auth
from care_messaging.services import events as domain_events
from care_messaging.services.actors import Actor
from care_messaging.services.errors import (
    SecondStepPendingError,
    SessionEndedError,
    SessionInvalidError,
)
from care_messaging.state.shared_values import shared_text
from care_messaging.web import offloop

ACCOUNT_PATH = "/account"
log = logging.getLogger(__name__)


# Every event parses its tab's cookie header; a tab's header is the same string each time.
@functools.lru_cache(maxsize=4096)
def session_token_from_cookie_header(cookie_header: str) -> str | None:
    if not cookie_header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(auth.SESSION_COOKIE)
    return morsel.value if morsel else None


def _check_session(token: str | None, client_ip: str, touch: bool,
                   second_step_pending_ok: bool) -> Actor:
    with check_scope() as session:
        return auth.resolve_session(session, token=token, client_ip=client_ip, touch=touch,
                                    second_step_pending_ok=second_step_pending_ok)


async def _resolve(state: rx.State, *, touch: bool, second_step_pending_ok: bool) -> Actor:
    router = state.router  # assembled anew on each access
    token = session_token_from_cookie_header(router.headers.cookie)
    client_ip = router.session.client_ip
    # Every event checks its session: a round trip on PostgreSQL. The usual case (a valid
    # session, nothing to write) is awaited on the loop with psycopg's async API, at a third
    # of the CPU of a hop to the database threads (care_messaging/db_on_loop.py); the rest
    # (refusals, revocations, the activity touch) goes through resolve_session there.
    if token and db_on_loop.available():
        try:
            actor = await auth.resolve_session_on_loop(
                token=token, client_ip=client_ip, touch=touch,
                second_step_pending_ok=second_step_pending_ok)
        except (SessionInvalidError, SecondStepPendingError):
            raise
        except Exception:  # the async connection failed: the pool's path decides
            log.warning("session check on the loop failed; checking in the pool", exc_info=True)
            actor = None
        if actor is not None:
            return actor
    return await offloop.run_db(_check_session, token, client_ip, touch,
                                second_step_pending_ok)


def _notice(error: SessionInvalidError) -> str:
    """What the sign-in page says: "expired" when a session this tab had has ended (idle,
    absolute, revoked), "signed_out" after a sign-out, and nothing for a first visit (no
    cookie, or one we do not know)."""
    if isinstance(error, SessionEndedError):
        return "signed_out" if error.reason == "logout" else "expired"
    return ""


async def resolve_actor(
    state: rx.State, *, touch: bool = True, second_step_pending_ok: bool = False
) -> Actor | None:
    """The Actor behind this browser tab's session, or None when it is missing, expired or
    still owes its second step (unless ``second_step_pending_ok``)."""
    return (await resolve_actor_and_notice(state, touch=touch,
                                           second_step_pending_ok=second_step_pending_ok))[0]


async def resolve_actor_and_notice(
    state: rx.State, *, touch: bool = True, second_step_pending_ok: bool = False
) -> tuple[Actor | None, str]:
    """The tab's Actor, or None and what the sign-in page should say (``_notice``)."""
    try:
        return await _resolve(state, touch=touch,
                              second_step_pending_ok=second_step_pending_ok), ""
    except SessionInvalidError as error:
        return None, _notice(error)


def asked_path(state: rx.State) -> str:
    """The page (path and query) this tab asked for, to return to after signing in."""
    url = state.router.url
    return url.path + (f"?{url.query}" if url.query else "")


# Live pushes (realtime events into an open tab) re-check the session too, but a burst of
# them for one tab reuses a check made within the last second instead of querying each time.
# Any handler the user triggers still checks the session afresh.
LIVE_ACTOR_TTL_SECONDS = 1.0
_live_actors: dict[str, tuple[float, Actor]] = {}


async def live_actor(state: rx.State) -> Actor | None:
    """The tab's Actor for applying a live event (no activity touch; cached for a second)."""
    # What this tab changes now (marking read, delivered) is live news for the others only.
    domain_events.origin_tab.set(state.router.session.client_token)
    token = session_token_from_cookie_header(state.router.headers.cookie)
    if not token:
        return None
    now = time.monotonic()
    cached = _live_actors.get(token)
    if cached is not None and now - cached[0] < LIVE_ACTOR_TTL_SECONDS:
        return cached[1]
    actor = await resolve_actor(state, touch=False)
    if actor is None:
        _live_actors.pop(token, None)
        return None
    if len(_live_actors) > 10_000:
        _live_actors.clear()
    _live_actors[token] = (now, actor)
    return actor


def to_login(reason: str = "expired", next_path: str = "") -> rx.event.EventSpec:
    """To the sign-in page, saying ``reason`` ("" for none) and returning to ``next_path``
    afterwards (kept only when it is one of our own pages: see navigation.safe_next_path)."""
    return rx.redirect(login_url(notice=reason, next_path=next_path), replace=True)


class AuthState(rx.State):
    """Who is signed in, for the header and role guards. Page states inherit from it."""

    user_name: str = ""
    user_role: str = ""
    signed_in: bool = False
    # A provider marked as clinic lead sees "Response times" in the navigation (the page's
    # service decides again who may read it).
    clinic_lead: bool = False

    def _remember(self, actor: Actor) -> None:
        # Only on a change: an assigned var rides in the event's delta even when equal.
        if self.user_name != actor.display_name:
            self.user_name = shared_text(actor.display_name)
        if self.user_role != actor.role:
            self.user_role = shared_text(actor.role)
        if not self.signed_in:
            self.signed_in = True
        if self.clinic_lead != actor.is_lead:
            self.clinic_lead = actor.is_lead

    def _forget(self) -> None:
        self.user_name = ""
        self.user_role = ""
        self.signed_in = False
        self.clinic_lead = False

    async def _guard(
        self, *roles: str, enrolling: bool = False
    ) -> tuple[Actor | None, rx.event.EventSpec | None]:
        """Resolve the actor and check the role.

        Returns (actor, None) when allowed, else (None, redirect): to the login page without a
        valid session, to the user's own landing page for the wrong role.
        """
        # Live delivery skips this tab for the changes this event makes (it shows its own).
        domain_events.origin_tab.set(self.router.session.client_token)
        try:
            actor = await _resolve(self, touch=True, second_step_pending_ok=enrolling)
        except SecondStepPendingError:
            # Required two-step sign-in comes before any PHI (refused in resolve_session).
            return None, rx.redirect(f"{ACCOUNT_PATH}?required=1", replace=True)
        except SessionInvalidError as error:
            self._forget()
            return None, to_login(_notice(error), asked_path(self))
        self._remember(actor)
        if roles and actor.role not in roles:
            return None, rx.redirect(landing_for(actor.role), replace=True)
        return actor, None

    @rx.event
    async def redirect_if_signed_in(self):
        """On the login page: a user who still has a session goes straight on, to the page
        they asked for (when it is one of ours) or their own landing page."""
        actor = await resolve_actor(self, touch=False, second_step_pending_ok=True)
        if actor is not None:
            next_path = self.router.url.query_parameters.get("next", "")
            return rx.redirect(after_sign_in(actor.role, next_path), replace=True)
        self._forget()
        return None

    @rx.event
    async def go_home(self):
        """The app's address (``/``): sign-in when signed out, else the user's landing page.
        (A full page load of ``/`` is redirected by the server before any of this runs:
        web/auth_routes.py; this covers navigation inside the app.)"""
        actor = await resolve_actor(self, touch=False)
        if actor is None:
            self._forget()
            return rx.redirect(LOGIN_PATH, replace=True)
        return rx.redirect(landing_for(actor.role), replace=True)
