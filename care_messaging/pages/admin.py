"""Admin page: the audit log (built out in the security issue)."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.layout import app_shell, nav_link
from care_messaging.state.auth import AuthState


class AdminState(AuthState):
    @rx.event
    def load(self):
        _actor, redirect = self._guard("admin")
        return redirect


def admin_page() -> rx.Component:
    return app_shell(
        rx.heading("Audit log", size="6", as_="h1", padding="1em"),
        user_name=AuthState.user_name,
        nav=[nav_link("Audit log", "/admin")],
    )
