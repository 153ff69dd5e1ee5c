"""Account settings: email notifications (patients and care team), two-step sign-in (care
team members and administrators)."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from care_messaging.components.layout import app_shell, nav_link
from care_messaging.components.quick_reply_editor import quick_reply_editor
from care_messaging.db import session_scope
from care_messaging.models import Role, User
from care_messaging.navigation import landing_for
from care_messaging.services import notifications, totp
from care_messaging.services.actors import Actor
from care_messaging.services.auth import totp_required_for
from care_messaging.services.errors import ServiceError
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import guarded
from care_messaging.state.quick_reply_editor import QuickReplyEditorState

ROLES = ("provider", "admin")  # two-step sign-in
EMAIL_ROLES = ("provider", "patient")
PAGE_ROLES = ("provider", "patient", "admin")


class AccountState(QuickReplyEditorState, AuthState):
    # The provider's own quick replies (state/quick_reply_editor.py): ROLE is their handlers'
    # PAGE_ROLE; the account handlers below name their roles themselves.
    CLINIC_WIDE: ClassVar[bool] = False
    ROLE: ClassVar[str] = "provider"

    totp_on: bool = False
    required: bool = False
    # Shown once while enrolling, so the user can type it into an authenticator app.
    enroll_secret: str = ""
    enroll_uri: str = ""
    message: str = ""
    error: str = ""
    home: str = "/dashboard"
    # Email notifications (the portal and dashboard show everything either way).
    email_on: bool = True
    digest_on: bool = True
    is_provider: bool = False
    gets_email: bool = False  # patients and the care team; administrators get no messages
    can_use_totp: bool = False

    def _sync(self, actor) -> None:
        with session_scope() as session:
            user = session.get(User, actor.user_id)
            self.totp_on = bool(user and user.totp_enabled)
            self.required = bool(user and totp_required_for(user.role, user.totp_required))
            choices = notifications.preferences(session, actor.user_id)
            self.email_on, self.digest_on = choices.email_on, choices.digest_on
        self.home = landing_for(actor.role)
        self.is_provider = actor.role == Role.PROVIDER
        self.gets_email = actor.role in EMAIL_ROLES
        self.can_use_totp = actor.role in ROLES

    @guarded(*PAGE_ROLES, enrolling=True)
    def load(self, actor: Actor):
        self.message = self.error = ""
        self.enroll_secret = self.enroll_uri = ""
        self._sync(actor)
        return None

    @guarded(*EMAIL_ROLES, enrolling=True)
    def save_notifications(self, actor: Actor, form: dict):
        """Email notifications and (care team) the daily digest, from the checkboxes."""
        self.error = ""
        with session_scope() as session:
            notifications.set_preferences(
                session, actor=actor, email_on=bool(form.get("email_on")),
                digest_on=bool(form.get("digest_on")) and actor.role == Role.PROVIDER)
        self.message = "Your email choices are saved."
        self._sync(actor)
        return None

    @guarded(*ROLES, enrolling=True)
    def start(self, actor: Actor):
        self.error = ""
        with session_scope() as session:
            try:
                self.enroll_secret, self.enroll_uri = totp.begin_enrollment(session, actor=actor)
            except ServiceError as error:
                self.error = str(error)
        return None

    @guarded(*ROLES, enrolling=True)
    def confirm(self, actor: Actor, form: dict):
        self.error = ""
        with session_scope() as session:
            try:
                totp.confirm_enrollment(session, actor=actor, code=str(form.get("code", ""))[:8])
            except ServiceError as error:
                self.error = str(error)
                return None
        self.enroll_secret = self.enroll_uri = ""
        self.message = "Two-step sign-in is on. You will be asked for a code at every sign-in."
        self._sync(actor)
        return None

    @guarded(*ROLES, enrolling=True)
    def turn_off(self, actor: Actor, form: dict):
        self.error = ""
        with session_scope() as session:
            try:
                totp.disable(session, actor=actor, code=str(form.get("code", ""))[:8])
            except ServiceError as error:
                self.error = str(error)
                return None
        self.message = "Two-step sign-in is off."
        self._sync(actor)
        return None


def _code_form(label: str, handler, button: str) -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.vstack(rx.el.label(label, html_for="totp-code"),
                      rx.input(id="totp-code", name="code", input_mode="numeric",
                               auto_complete="one-time-code", max_length=8)),
            rx.button(button, type="submit"),
            align="end",
        ),
        on_submit=handler, reset_on_submit=True,
    )


def _checkbox(name: str, label: str, checked: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.el.input(type="checkbox", name=name, default_checked=checked, id=f"pref-{name}"),
        " ", label, html_for=f"pref-{name}",
    )


def _notification_section() -> rx.Component:
    S = AccountState
    return rx.form(
        rx.vstack(
            rx.heading("Email notifications", size="4", as_="h2"),
            rx.text("Emails never include the message or anyone's name: only that there is "
                    "something new for you, and a link to sign in.", size="2"),
            _checkbox("email_on", "Email me when I have a new secure message", S.email_on),
            rx.cond(S.is_provider,
                    _checkbox("digest_on", "Send me a daily summary of patient conversations "
                              "waiting for a reply", S.digest_on)),
            rx.button("Save email choices", type="submit"),
            spacing="2",
        ),
        on_submit=S.save_notifications,
        # Remounted with the saved values after a load (default_checked is read once).
        key=S.email_on.to_string() + S.digest_on.to_string(),
    )


def account_page() -> rx.Component:
    S = AccountState
    return app_shell(
        rx.vstack(
            rx.heading("Account", size="6", as_="h1"),
            rx.cond(S.error != "", rx.callout(S.error, color_scheme="red", role="alert")),
            rx.cond(S.message != "", rx.callout(S.message, color_scheme="green", role="status")),
            rx.cond(S.gets_email, _notification_section()),
            rx.cond(S.can_use_totp, _security_section()),
            rx.cond(S.home == "/dashboard", quick_reply_editor(
                S, heading="My quick replies",
                intro="Only you see these, beside the clinic's, under the reply box.")),
            rx.link(rx.cond(S.home == "/admin", "Back to the audit log", "Back to messages"),
                    href=S.home),
            padding="1em", spacing="4", max_width="640px",
        ),
        user_name=S.user_name,
        nav=[rx.cond(S.home == "/admin", nav_link("Audit log", "/admin"),
                     nav_link("Messages", S.home)),
             rx.cond(S.clinic_lead, nav_link("Response times", "/response-times")),
             nav_link("Account", "/account")],
    )


def _security_section() -> rx.Component:
    S = AccountState
    return rx.vstack(
        rx.heading("Account security", size="4", as_="h2"),
        rx.cond(S.required & ~S.totp_on,
                rx.callout("Two-step sign-in is required for your account. Set it up to "
                           "continue.", color_scheme="amber", role="alert")),
        rx.text("Two-step sign-in: ", rx.text.strong(rx.cond(S.totp_on, "on", "off"))),
        rx.cond(
            S.totp_on,
            _code_form("Current code to turn it off", S.turn_off, "Turn off"),
            rx.cond(
                S.enroll_secret != "",
                rx.vstack(
                    rx.text("Add this key to your authenticator app (or open the link on "
                            "your phone), then enter the 6-digit code it shows."),
                    rx.code(S.enroll_secret, size="4", aria_label="Setup key"),
                    rx.link("Open in authenticator app", href=S.enroll_uri),
                    _code_form("Code from the app", S.confirm, "Confirm"),
                ),
                rx.button("Set up two-step sign-in", on_click=S.start),
            ),
        ),
        spacing="3",
    )
