"""Provider thread: header with patient and status controls, messages, reply box."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.assignment import assignment_bar
from care_messaging.components.composer import composer
from care_messaging.components.internal_notes import internal_notes_panel
from care_messaging.components.message_log import message_log
from care_messaging.components.quick_reply_menu import quick_reply_menu
from care_messaging.presenters.labels import PRIORITY_LABELS, STATUS_LABELS

MOBILE_HIDE = {"@media (min-width: 768px)": {"display": "flex"}}


def labeled_select(label: str, id_: str, options: dict[str, str], **props) -> rx.Component:
    return rx.hstack(
        rx.el.label(label, html_for=id_, style={"fontSize": "13px"}),
        rx.el.select(
            *[rx.el.option(text, value=str(value)) for value, text in options.items()],
            id=id_, name=id_,
            style={"padding": "4px", "borderRadius": "6px",
                   "border": f"1px solid {rx.color('gray', 7)}"},
            **props,
        ),
        align="center", spacing="1",
    )


def _header(S) -> rx.Component:
    h = S.header
    return rx.vstack(
        rx.hstack(
            rx.link(rx.button(rx.icon("arrow-left", size=16), "Back", variant="ghost"),
                    href="/dashboard", class_name="back-to-list",
                    style={"@media (min-width: 768px)": {"display": "none"}}),
            rx.avatar(fallback=h["initials"], size="3", radius="full", color_scheme="teal"),
            rx.vstack(
                rx.heading(h["topic"], size="4", as_="h2"),
                rx.text(h["patient_name"], " · ID ", h["mrn"], size="2", color_scheme="gray"),
                rx.cond(h["about"] != "",
                        rx.text(h["about"], size="1", color_scheme="gray",
                                class_name="thread-about")),
                spacing="0",
            ),
            rx.spacer(),
            rx.link(rx.button(rx.icon("user", size=16), "Patient profile", variant="soft"),
                    href=h["patient_href"]),
            # A real download (not a client-side route change): the route
            # (web/fhir_routes.py) checks the session cookie and the care team itself.
            rx.el.a(
                rx.icon("file-down", size=16), "Export FHIR",
                href=f"/api/conversations/{h['id']}/fhir",
                download="", reload_document=True, class_name="fhir-export",
                title="Download this conversation as a FHIR R4 Bundle (JSON)",
                style={"display": "inline-flex", "alignItems": "center", "gap": "6px",
                       "padding": "6px 12px", "borderRadius": "6px", "fontSize": "14px",
                       "fontWeight": 500, "textDecoration": "none",
                       "color": rx.color("accent", 11), "background": rx.color("accent", 3)},
            ),
            width="100%", align="center", wrap="wrap",
        ),
        rx.hstack(
            labeled_select("Status", "status", STATUS_LABELS, value=S.thread_status,
                           on_change=S.set_status),
            labeled_select("Priority", "priority", PRIORITY_LABELS, value=S.thread_priority,
                           on_change=S.set_priority),
            rx.cond(h["red_flag"] == "1",
                    rx.badge("Red flag: urgent", color_scheme="red", data_testid="thread-red-flag")),
            rx.cond(h["overdue"] == "1",
                    rx.badge("Overdue", color_scheme="amber", data_testid="thread-overdue")),
            spacing="4", wrap="wrap",
        ),
        assignment_bar(S),
        width="100%", padding="0.75em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
    )


def _composer(S) -> rx.Component:
    return composer(S, label="Reply", placeholder="Write a reply… (Enter sends, "
                    "Shift+Enter for a new line)", extras=quick_reply_menu(S))


def provider_thread(S) -> rx.Component:
    empty = rx.center(
        rx.cond(
            S.thread_error != "",
            rx.callout(S.thread_error, icon="circle-alert", color_scheme="red", role="alert"),
            rx.text("Select a conversation to read and reply.", color_scheme="gray"),
        ),
        width="100%", height="100%", padding="2em",
    )
    thread = rx.vstack(
        _header(S),
        message_log(S),
        internal_notes_panel(S),
        _composer(S),
        width="100%", height="100%", spacing="0",
    )
    return rx.box(
        rx.cond(S.open_id != "", thread, empty),
        flex="1", min_width="0", width="100%",
        # Phones: the window below the header. Desktops: the workspace's height, which
        # reaches the window's bottom edge (.cm-workspace in assets/care.css).
        height=["calc(100vh - 130px)", "calc(100vh - 130px)", "auto"],
        min_height="420px",
        display=rx.cond(S.open_id != "", "flex", rx.cond(S.thread_error != "", "flex", "none")),
        style=MOBILE_HIDE,
    )
