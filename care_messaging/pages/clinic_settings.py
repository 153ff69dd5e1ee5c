"""The admin page's care-team section: reply-by times (per priority, working hours and days,
time zone) and the clinic-wide quick replies. Thin handlers over services/reply_by.py and
services/quick_replies.py (which check the role and audit).

Mixins of ``AdminState`` (pages/admin.py) rather than states of their own: Reflex builds every
state class of the app for every tab, so each extra class costs every open tab its instance
and bookkeeping (bench/profiles/memory.md)."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.quick_reply_editor import quick_reply_editor
from care_messaging.db import session_scope
from care_messaging.models import Priority
from care_messaging.services import reply_by
from care_messaging.services.actors import Actor
from care_messaging.services.errors import ServiceError
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import guarded
from care_messaging.state.shared_values import no_fields

FIELDS = [("timezone", "Time zone"), ("day_start", "Working day starts"),
          ("day_end", "Working day ends"), ("working_days", "Working days"),
          *[(f"target_{p}", f"Reply-by for {p.value} (2d = business days, 4h = working hours)")
            for p in Priority]]


class ClinicSettingsState(AuthState, mixin=True):
    values: dict[str, str] = rx.field(default_factory=no_fields)
    settings_error: str = ""
    settings_notice: str = ""

    # Part of the page's load, which redirects a refused tab itself.
    @guarded("admin", silent=True)
    def load_settings(self, actor: Actor):
        with session_scope() as session:
            self.values = reply_by.as_form(reply_by.load(session, fresh=True))
        self.settings_error = self.settings_notice = ""
        return None

    @guarded("admin")
    def save_settings(self, actor: Actor, form: dict):
        self.settings_error = self.settings_notice = ""
        with session_scope() as session:
            try:
                hours = reply_by.save(session, actor=actor,
                                      values={k: str(form.get(k, "")) for k, _ in FIELDS})
            except ServiceError as error:
                self.settings_error = str(error)
                return None
        self.values = reply_by.as_form(hours)
        self.settings_notice = "Reply-by settings saved."
        return None


def clinic_settings_section(S) -> rx.Component:
    """``S``: the admin page's state (``ClinicSettingsState`` and ``QuickReplyEditorState``)."""
    return rx.vstack(
        rx.heading("Reply-by times", size="5", as_="h2"),
        rx.text("Each patient message expects a reply by this time; past it, the conversation "
                "is escalated to its care team.", size="2", color_scheme="gray"),
        rx.cond(S.settings_error != "",
                rx.callout(S.settings_error, color_scheme="red", role="alert")),
        rx.cond(S.settings_notice != "", rx.callout(S.settings_notice, role="status")),
        rx.form(
            rx.vstack(
                *[rx.vstack(rx.el.label(label, html_for=f"cs-{key}", style={"fontSize": "13px"}),
                            rx.input(id=f"cs-{key}", name=key, default_value=S.values[key],
                                     key=S.values[key]), spacing="1", width="100%")
                  for key, label in FIELDS],
                rx.button("Save reply-by settings", type="submit"),
                width="100%", max_width="32em",
            ),
            on_submit=S.save_settings, reset_on_submit=False, width="100%",
        ),
        quick_reply_editor(S, heading="Clinic quick replies",
                           intro="Every provider can insert these into a reply."),
        width="100%", spacing="3",
    )
