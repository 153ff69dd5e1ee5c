"""Admin: the audit log (filters, CSV export) and account controls. No PHI is shown here
beyond identifiers already in the audit trail."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from care_messaging.components.layout import app_shell, nav_link
from care_messaging.components.local_time import local_time
from care_messaging.db import session_scope
from care_messaging.pages.clinic_settings import ClinicSettingsState, clinic_settings_section
from care_messaging.presenters.provider import when
from care_messaging.services import audit_log, users
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action
from care_messaging.services.audit_log import AuditFilter, parse_day
from care_messaging.services.errors import ServiceError
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import guarded
from care_messaging.state.quick_reply_editor import QuickReplyEditorState
from care_messaging.state.shared_values import no_rows
from care_messaging.state.tab_owner import wipe_user_tabs
from care_messaging.web import offloop

PAGE = 50
ACTIONS = sorted(v for k, v in vars(Action).items() if k.isupper())


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


class AdminState(ClinicSettingsState, QuickReplyEditorState, AuthState):
    # The reply-by settings and the clinic-wide quick replies (pages/clinic_settings.py).
    CLINIC_WIDE: ClassVar[bool] = True
    ROLE: ClassVar[str] = "admin"

    rows: list[dict[str, str]] = rx.field(default_factory=no_rows)
    total: int = 0
    offset: int = 0
    error: str = ""
    f_user: str = ""
    f_patient: str = ""
    f_action: str = ""
    f_from: str = ""
    f_to: str = ""
    people: list[dict[str, str]] = rx.field(default_factory=no_rows)
    notice: str = ""

    def _filter(self) -> AuditFilter:
        return AuditFilter(user=self.f_user, patient=self.f_patient, action=self.f_action,
                           date_from=parse_day(self.f_from), date_to=parse_day(self.f_to))

    def _reload(self, actor) -> None:
        self.error = ""
        with session_scope() as session:
            try:
                found, self.total = audit_log.search(session, actor=actor, flt=self._filter(),
                                                     limit=PAGE, offset=self.offset)
            except ServiceError as error:
                self.error = str(error)
                return
            # Patients appear by account number, never by email (the admin sees no PHI).
            labels = users.account_labels(session, actor=actor,
                                          user_ids=[r.actor_user_id or 0 for r in found])
            self.rows = [{"id": str(r.id), "at": when(r.at),
                          "actor": labels.get(r.actor_user_id or 0, r.actor_label) or "—",
                          "action": r.action, "object": f"{r.object_type} {r.object_id}".strip(),
                          "patient": str(r.patient_id or ""), "outcome": r.outcome,
                          "ip": r.client_ip, "detail": r.detail} for r in found]
            self.people = [{"id": str(u.id), "label": u.label, "role": u.role,
                            "active": "1" if u.active else "", "totp": "on" if u.totp_enabled
                            else "off", "required": "1" if u.totp_required else "",
                            "lead": "1" if u.lead else ""}
                           for u in users.list_users(session, actor=actor)]

    @guarded("admin")
    def load(self, actor: Actor):
        self.offset = 0
        self._reload(actor)
        return None

    @guarded("admin")
    def apply_filters(self, actor: Actor, form: dict):
        self.f_user = str(form.get("user", ""))[:254]
        self.f_patient = str(form.get("patient", ""))[:20]
        action = str(form.get("action", ""))
        self.f_action = action if action in ACTIONS else ""
        self.f_from = str(form.get("from", ""))[:10]
        self.f_to = str(form.get("to", ""))[:10]
        self.offset = 0
        self._reload(actor)
        return None

    @guarded("admin")
    def page(self, actor: Actor, step: int):
        self.offset = max(0, self.offset + (PAGE if int(step) > 0 else -PAGE))
        self._reload(actor)
        return None

    @guarded("admin")
    def export(self, actor: Actor):
        with session_scope() as session:
            try:
                data = audit_log.export_csv(session, actor=actor, flt=self._filter())
            except ServiceError as error:
                self.error = str(error)
                return None
        self._reload(actor)
        return rx.download(data=data, filename="audit-log.csv")

    @guarded("admin")
    async def set_active(self, actor: Actor, user_id: str, active: bool):
        disabled = None
        try:
            ended = await offloop.in_session(users.set_active, actor=actor,
                                             user_id=_int(user_id), active=bool(active))
            self.notice = "Account enabled." if active else (
                f"Account disabled; {ended} active session(s) ended.")
            disabled = None if active else _int(user_id)
        except ServiceError as error:
            self.notice = str(error)
        if disabled:
            # The disabled user's open tabs keep nothing of what they showed.
            await wipe_user_tabs(disabled)
        await offloop.run_db(self._reload, actor)
        return None

    @guarded("admin")
    def require_totp(self, actor: Actor, user_id: str, required: bool):
        with session_scope() as session:
            try:
                users.set_totp_required(session, actor=actor, user_id=_int(user_id),
                                        required=bool(required))
                self.notice = "Two-step sign-in requirement updated."
            except ServiceError as error:
                self.notice = str(error)
        self._reload(actor)
        return None

    @guarded("admin")
    def set_lead(self, actor: Actor, user_id: str, lead: bool):
        with session_scope() as session:
            try:
                users.set_clinic_lead(session, actor=actor, user_id=_int(user_id),
                                      lead=bool(lead))
                self.notice = ("Marked as clinic lead: they see Response times." if lead
                               else "No longer a clinic lead.")
            except ServiceError as error:
                self.notice = str(error)
        self._reload(actor)
        return None


def _filters() -> rx.Component:
    S = AdminState
    field = lambda label, name, **p: rx.vstack(  # noqa: E731 - a tiny local layout helper
        rx.el.label(label, html_for=f"f-{name}", style={"fontSize": "13px"}),
        rx.input(id=f"f-{name}", name=name, **p), spacing="1")
    return rx.form(
        rx.hstack(
            field("User email", "user", default_value=S.f_user),
            field("Patient ID", "patient", default_value=S.f_patient, placeholder="P-100200"),
            rx.vstack(rx.el.label("Action", html_for="f-action", style={"fontSize": "13px"}),
                      rx.el.select(rx.el.option("Any", value=""),
                                   *[rx.el.option(a, value=a) for a in ACTIONS],
                                   id="f-action", name="action", style={"padding": "6px"}),
                      spacing="1"),
            field("From", "from", type="date"),
            field("To", "to", type="date"),
            rx.button("Filter", type="submit"),
            rx.button("Export CSV", type="button", variant="soft", on_click=S.export),
            align="end", wrap="wrap", spacing="3",
        ),
        on_submit=S.apply_filters,
    )


def _audit_table() -> rx.Component:
    S = AdminState
    cols = ["When", "Who", "Action", "Object", "Patient", "Outcome", "Client", "Detail"]
    keys = ["at", "actor", "action", "object", "patient", "outcome", "ip", "detail"]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(c) for c in cols])),
        rx.table.body(rx.foreach(S.rows, lambda r: rx.table.row(
            rx.table.cell(rx.text(local_time(r["at"], "full"), size="1")),
            *[rx.table.cell(rx.text(r[k], size="1")) for k in keys[1:]]))),
        size="1", variant="surface", aria_label="Audit log",
    )


def _users_table() -> rx.Component:
    S = AdminState

    def row(u: rx.Var) -> rx.Component:
        return rx.table.row(
            rx.table.cell(u["label"]), rx.table.cell(u["role"]),
            rx.table.cell(rx.cond(u["active"] == "1", "Active", "Disabled")),
            rx.table.cell(u["totp"]),
            rx.table.cell(rx.cond(u["lead"] == "1", "Clinic lead", "")),
            rx.table.cell(rx.hstack(
                rx.cond(u["active"] == "1",
                        rx.button("Disable", size="1", color_scheme="red", variant="soft",
                                  on_click=lambda: S.set_active(u["id"], False),
                                  aria_label=f"Disable {u['label']}"),
                        rx.button("Enable", size="1", variant="soft",
                                  on_click=lambda: S.set_active(u["id"], True),
                                  aria_label=f"Enable {u['label']}")),
                rx.cond(u["role"] == "provider",
                        rx.cond(u["required"] == "1",
                                rx.button("Stop requiring 2FA", size="1", variant="soft",
                                          on_click=lambda: S.require_totp(u["id"], False)),
                                rx.button("Require 2FA", size="1", variant="soft",
                                          on_click=lambda: S.require_totp(u["id"], True)))),
                rx.cond(u["role"] == "provider",
                        rx.cond(u["lead"] == "1",
                                rx.button("Remove clinic lead", size="1", variant="soft",
                                          on_click=lambda: S.set_lead(u["id"], False),
                                          aria_label=f"Remove {u['label']} as clinic lead"),
                                rx.button("Make clinic lead", size="1", variant="soft",
                                          on_click=lambda: S.set_lead(u["id"], True),
                                          aria_label=f"Make {u['label']} a clinic lead"))),
                spacing="2")),
        )

    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(c) for c in
                                       ["Account", "Role", "Status", "2FA", "Lead", ""]])),
        rx.table.body(rx.foreach(S.people, row)),
        size="1", variant="surface", aria_label="Users",
    )


def admin_page() -> rx.Component:
    S = AdminState
    return app_shell(
        rx.vstack(
            rx.heading("Audit log", size="6", as_="h1"),
            _filters(),
            rx.cond(S.error != "", rx.callout(S.error, color_scheme="red", role="alert")),
            rx.text(S.total, " matching events", size="2", color_scheme="gray"),
            rx.box(_audit_table(), overflow_x="auto", width="100%"),
            rx.hstack(
                rx.button("Newer", on_click=S.page(-1), disabled=S.offset == 0, variant="soft"),
                rx.button("Older", on_click=S.page(1), disabled=S.offset + 50 >= S.total,
                          variant="soft"),
            ),
            rx.heading("Accounts", size="5", as_="h2"),
            rx.cond(S.notice != "", rx.callout(S.notice, role="status")),
            rx.box(_users_table(), overflow_x="auto", width="100%"),
            clinic_settings_section(S),
            padding="1em", spacing="3", width="100%",
        ),
        user_name=S.user_name,
        nav=[nav_link("Audit log", "/admin"), nav_link("Response times", "/response-times"),
             nav_link("Account", "/account")],
    )
