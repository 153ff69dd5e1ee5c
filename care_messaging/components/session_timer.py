"""Idle sign-out warning: a dialog shortly before the idle timeout, with "Stay signed in".

A background task per tab polls the session's remaining idle time *without* touching it (so
the poll itself never keeps a session alive); any real action, or the button, touches it.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from care_messaging import realtime
from care_messaging.components.native_form import native_form
from care_messaging.db import session_scope
from care_messaging.services import auth
from care_messaging.settings import get_settings
from care_messaging.state.auth import (
    asked_path,
    resolve_actor,
    session_token_from_cookie_header,
    to_login,
)
from care_messaging.state.tab_owner import wipe_session_tabs
from care_messaging.web.origins import LOGOUT_ACTION, backend_url

POLL_SECONDS = 5


def timer_phase(seconds_left: int, warning_seconds: int) -> str:
    """'expired', 'warn' or 'ok' for a session with ``seconds_left`` of idle time."""
    if seconds_left <= 0:
        return "expired"
    return "warn" if seconds_left <= warning_seconds else "ok"


class SessionTimerState(rx.State):
    warning_open: bool = False
    seconds_left: int = 0
    _watching: bool = False

    @rx.event(background=True)
    async def watch(self):
        async with self:
            if self._watching:
                return
            self._watching = True
        token = session_token_from_cookie_header(self.router.headers.cookie)
        tab = self.router.session.client_token
        back = asked_path(self)  # after signing in again, back to this page
        warning = get_settings().idle_warning_seconds
        try:
            while True:
                await asyncio.sleep(POLL_SECONDS)
                if not await realtime.is_tab_connected(tab):
                    return  # the tab is gone: stop polling for it
                left = await asyncio.to_thread(self._seconds_left, token)
                phase = timer_phase(left, warning)
                async with self:
                    if session_token_from_cookie_header(self.router.headers.cookie) != token:
                        return  # the tab was signed into again: this watch was the old session's
                    self.seconds_left = left
                    self.warning_open = phase == "warn"
                if phase == "expired":
                    if token:
                        # Idle or absolute sign-out: nothing of the user stays in the server
                        # state of this session's tabs, even before the login page loads.
                        await wipe_session_tabs(auth.hash_token(token))
                    yield to_login("expired", back)
                    return
        finally:
            async with self:
                self._watching = False

    @staticmethod
    def _seconds_left(token: str | None) -> int:
        with session_scope() as session:
            return auth.session_seconds_left(session, token=token)

    @rx.event
    async def stay_signed_in(self):
        """A deliberate action: touch the session (re-validated on the server)."""
        # Not PHI: a user still setting up two-step sign-in may keep their session alive.
        if await resolve_actor(self, touch=True, second_step_pending_ok=True) is None:
            return to_login("expired", asked_path(self))
        self.warning_open = False
        return None


def session_timer() -> rx.Component:
    S = SessionTimerState
    return rx.fragment(
        rx.box(on_mount=S.watch, display="none"),
        rx.alert_dialog.root(
            rx.alert_dialog.content(
                rx.alert_dialog.title("Are you still there?"),
                rx.alert_dialog.description(
                    "For your privacy you will be signed out in about ", S.seconds_left,
                    " seconds."),
                rx.hstack(
                    native_form(rx.button("Sign out", type="submit", variant="soft"),
                               action=backend_url(LOGOUT_ACTION), method="post"),
                    rx.button("Stay signed in", on_click=S.stay_signed_in),
                    justify="end", spacing="3", margin_top="1em",
                ),
            ),
            open=S.warning_open,
        ),
    )
