"""Provider dashboard: statistics, conversation list and thread, New Message dialog."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.composer import outbox_link
from care_messaging.components.layout import app_shell, nav_link
from care_messaging.components.provider_new_message import new_message_dialog
from care_messaging.components.provider_sidebar import provider_sidebar
from care_messaging.components.provider_stats import provider_stats
from care_messaging.components.provider_thread import provider_thread
from care_messaging.components.search_link import search_link
from care_messaging.pages.dashboard_state import DashboardState

__all__ = ["DashboardState", "dashboard_page", "provider_nav"]


def provider_nav(unread: rx.Var, lead: rx.Var) -> list[rx.Component]:
    """The providers' navigation; ``lead``: the clinic lead's "Response times" link."""
    return [nav_link("Messages", "/dashboard", badge=unread), search_link(),
            rx.cond(lead, nav_link("Response times", "/response-times")),
            nav_link("Account", "/account")]


def dashboard_page() -> rx.Component:
    S = DashboardState
    return app_shell(
        rx.box(
            rx.heading("Messages", size="6", as_="h1"),
            provider_stats(S),
            class_name="cm-dash-top",
        ),
        rx.flex(
            provider_sidebar(S),
            provider_thread(S),
            width="100%",
            border_top=f"1px solid {rx.color('gray', 5)}",
            class_name="cm-workspace",
        ),
        new_message_dialog(S),
        outbox_link(S),
        user_name=S.user_name,
        nav=provider_nav(S.nav_unread, S.clinic_lead),
        fill_viewport=True,
    )
