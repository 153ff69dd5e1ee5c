"""Provider dashboard: conversation list and thread (built out in the provider issue)."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.layout import app_shell, nav_link
from care_messaging.state.auth import AuthState


class DashboardState(AuthState):
    @rx.event
    def load(self):
        _actor, redirect = self._guard("provider")
        return redirect


def dashboard_page() -> rx.Component:
    return app_shell(
        rx.heading("Messages", size="6", as_="h1", padding="1em"),
        user_name=AuthState.user_name,
        nav=[nav_link("Messages", "/dashboard")],
    )
