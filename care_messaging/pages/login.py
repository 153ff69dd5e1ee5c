"""Sign-in page for every role. The form posts to /api/auth/login (see web/auth_routes.py)."""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import unquote

import reflex as rx

from care_messaging.components.error_notice import error_notice
from care_messaging.components.native_form import native_form
from care_messaging.navigation import safe_next_path
from care_messaging.state.auth import AuthState, resolve_actor
from care_messaging.state.tab_owner import forget_tab
from care_messaging.web.auth_routes import EMAIL_COOKIE
from care_messaging.web.origins import LOGIN_ACTION, backend_url

ERRORS = {
    "invalid": "Incorrect email or password.",
    "locked": "Too many failed sign-in attempts. Try again in a few minutes.",
    "busy": "Sign-in is busy right now. Try again in a moment.",
}
NOTICES = {
    "expired": "Your session ended. Please sign in again.",
    "signed_out": "You have been signed out.",
}


class LoginState(AuthState):
    """Messages shown on the login page, chosen from fixed texts by query code (no echo)."""

    error_message: str = ""
    notice: str = ""
    totp_step: bool = False
    prefill_email: str = ""
    # The page to go on to after signing in (only one of ours; the route checks it again):
    # the page asked for before signing in, or a sign-in link's conversation.
    next_path: str = ""

    @rx.event
    async def load(self):
        if await resolve_actor(self, touch=False) is None:
            # A session that ended by timing out leaves its cookie in place, so the tab's
            # owner mark still matches: empty the tree here (the sign-in page is where every
            # ended session lands).
            await forget_tab(self)
        params = self.router.url.query_parameters
        self.error_message = ERRORS.get(str(params.get("error", "")), "")
        # A first visit (no "reason") shows the plain form: "Your session ended" is only for
        # a session that did end (state/auth.py decides which).
        self.notice = NOTICES.get(str(params.get("reason", "")), "")
        self.totp_step = params.get("step") == "totp"
        # From the sign-in route's short-lived HttpOnly cookie, never from the address.
        self.prefill_email = typed_email(self.router.headers.cookie)
        self.next_path = safe_next_path(params.get("next", ""))
        return AuthState.redirect_if_signed_in


def typed_email(cookie_header: str) -> str:
    jar = SimpleCookie()
    try:
        jar.load(cookie_header or "")
    except CookieError:
        return ""
    morsel = jar.get(EMAIL_COOKIE)
    return unquote(morsel.value)[:254] if morsel else ""


def _field(label: str, **props) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=props["id"], style={"fontWeight": 500, "fontSize": "14px"}),
        rx.input(size="3", width="100%", **props),
        spacing="1",
        width="100%",
    )


def login_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("message-square-heart", size=28, color=rx.color("teal", 9)),
                    rx.heading("Care Messaging", size="6", as_="h1"),
                    align="center",
                    spacing="2",
                ),
                rx.text("Secure messaging with your care team", color_scheme="gray", size="2"),
                error_notice(LoginState.error_message),
                rx.cond(
                    LoginState.notice != "",
                    rx.callout(LoginState.notice, icon="info", color_scheme="blue",
                               role="status", width="100%"),
                ),
                native_form(
                    rx.vstack(
                        rx.el.input(type="hidden", name="next", value=LoginState.next_path),
                        _field("Email", id="email", name="email", type="email",
                               auto_complete="username", required=True,
                               default_value=LoginState.prefill_email),
                        _field("Password", id="password", name="password", type="password",
                               auto_complete="current-password", required=True),
                        rx.cond(
                            LoginState.totp_step,
                            rx.vstack(
                                rx.text("Two-step sign-in is on for this account. Enter your "
                                        "password again and the 6-digit code from your "
                                        "authenticator app.", size="2"),
                                _field("Verification code", id="code", name="code",
                                       input_mode="numeric", auto_complete="one-time-code",
                                       pattern="[0-9]{6}", required=True),
                                width="100%",
                            ),
                        ),
                        rx.button("Sign in", type="submit", size="3", width="100%"),
                        spacing="4",
                        width="100%",
                    ),
                    action=backend_url(LOGIN_ACTION),
                    method="post",
                    width="100%",
                ),
                rx.text(
                    "For emergencies call 911 or your local emergency number.",
                    size="1",
                    color_scheme="gray",
                ),
                spacing="4",
                width="100%",
            ),
            size="4",
            width="100%",
            max_width="420px",
        ),
        min_height="100vh",
        padding="1em",
        background=rx.color("teal", 2),
    )
