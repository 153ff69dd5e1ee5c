"""Patient portal: mobile-first list of conversations with the care team, and the chat."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.composer import outbox_link
from care_messaging.components.layout import app_shell, nav_link
from care_messaging.components.patient_chat import chat, conversation_list, new_conversation_dialog
from care_messaging.components.search_link import search_link
from care_messaging.pages.portal_state import PortalState

__all__ = ["PortalState", "patient_nav", "portal_page"]


def patient_nav(unread: rx.Var) -> list[rx.Component]:
    return [nav_link("Messages", "/portal", badge=unread), search_link(),
            nav_link("Help", "/portal/help"), nav_link("Account", "/account")]


def portal_page() -> rx.Component:
    S = PortalState
    return app_shell(
        rx.box(
            rx.cond(
                S.open_id != "",
                chat(S),
                rx.vstack(
                    rx.cond(S.thread_error != "",
                            rx.callout(S.thread_error, icon="circle-alert", color_scheme="red",
                                       role="alert", width="100%")),
                    conversation_list(S),
                    width="100%",
                ),
            ),
            new_conversation_dialog(S),
            outbox_link(S),
            max_width="760px", margin_x="auto", width="100%",
        ),
        user_name=S.user_name,
        nav=patient_nav(S.nav_unread),
    )
