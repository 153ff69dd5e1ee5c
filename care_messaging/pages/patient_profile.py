"""Patient profile for providers: details and conversations, at /patients?id=<patient id>.

The id comes from the URL and is re-checked by ``access_patient`` (forbidden == not found).
"""

from __future__ import annotations

import reflex as rx

from care_messaging.components.layout import app_shell
from care_messaging.components.local_time import local_time
from care_messaging.db import session_scope
from care_messaging.pages.dashboard import provider_nav
from care_messaging.presenters.labels import MEDIUM_LABELS, label
from care_messaging.presenters.provider import conversation_row
from care_messaging.services import conversation_list, view_audit
from care_messaging.services.access import access_patient
from care_messaging.services.actors import Actor
from care_messaging.services.errors import ServiceError
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import guarded
from care_messaging.state.shared_values import no_fields, no_rows


class PatientProfileState(AuthState):
    error: str = ""
    patient: dict[str, str] = rx.field(default_factory=no_fields)
    conversations: list[dict[str, str]] = rx.field(default_factory=no_rows)
    total: int = 0
    nav_unread: int = 0

    @guarded("provider")
    def load(self, actor: Actor):
        self.error, self.patient, self.conversations, self.total = "", {}, [], 0
        raw = str(self.router.url.query_parameters.get("id", ""))
        patient_id = int(raw) if raw.isdigit() and len(raw) < 10 else -1
        with session_scope() as session:
            self.nav_unread = conversation_list.unread_total(session, actor=actor)
            try:
                patient = access_patient(session, actor=actor, patient_id=patient_id)
                page = conversation_list.list_patient_conversations(
                    session, actor=actor, patient_id=patient_id, limit=100)
            except ServiceError as error:
                self.error = str(error)
                return None
            view_audit.record_patient_view(session, actor=actor, patient_id=patient_id,
                                           what=f"profile conversations={page.total}")
            dob = patient.date_of_birth
            self.patient = {
                "id": str(patient.id),
                "name": patient.full_name,
                "mrn": patient.mrn,
                "dob": dob.strftime("%b %d, %Y") if dob else "—",
                "phone": patient.phone or "—",
                "contact": label(MEDIUM_LABELS, patient.preferred_medium),
                "new_href": f"/dashboard?new={patient.id}",
            }
            self.conversations = [conversation_row(r) for r in page.rows]
            self.total = page.total
        return None


def _detail(label: str, value: rx.Var) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label), rx.data_list.value(value))


def _conversation(row: rx.Var) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.link(row["topic"], href=row["href"], weight="bold"),
                rx.text(row["preview"], size="1", color_scheme="gray"),
                spacing="1",
            ),
            rx.spacer(),
            rx.vstack(
                rx.text(local_time(row["when"], "list"), size="1", color_scheme="gray"),
                rx.text(row["count_label"], " · ", row["status"], size="1"),
                align="end", spacing="1",
            ),
            width="100%",
        ),
        width="100%",
        role="listitem",
    )


def patient_profile_page() -> rx.Component:
    S = PatientProfileState
    p = S.patient
    content = rx.vstack(
        rx.link("← All conversations", href="/dashboard", size="2"),
        rx.heading(p["name"], size="6", as_="h1"),
        rx.data_list.root(
            _detail("Patient ID", p["mrn"]),
            _detail("Date of birth", p["dob"]),
            _detail("Phone", p["phone"]),
            _detail("Preferred contact", p["contact"]),
        ),
        rx.hstack(
            rx.heading("Conversations", size="4", as_="h2"),
            rx.spacer(),
            rx.link(rx.button(rx.icon("plus", size=16), "New Message"), href=p["new_href"]),
            width="100%", align="center",
        ),
        rx.cond(S.total == 0, rx.text("No conversations yet.", color_scheme="gray")),
        rx.vstack(rx.foreach(S.conversations, _conversation), role="list", width="100%",
                  aria_label="Patient conversations"),
        spacing="3", width="100%", max_width="800px", padding="1em",
    )
    return app_shell(
        rx.cond(
            S.error != "",
            rx.vstack(
                rx.heading("Patient profile", size="6", as_="h1"),
                rx.callout(S.error, icon="circle-alert", color_scheme="red", role="alert"),
                rx.link("Back to conversations", href="/dashboard"),
                padding="1em",
            ),
            rx.cond(S.patient.contains("id"), content, rx.spinner(margin="2em")),
        ),
        user_name=S.user_name,
        nav=provider_nav(S.nav_unread, S.clinic_lead),
    )
