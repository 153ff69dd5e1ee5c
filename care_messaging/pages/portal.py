"""Patient portal: the patient's conversations with their care team (built out in its issue)."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.layout import app_shell, nav_link
from care_messaging.state.auth import AuthState


class PortalState(AuthState):
    @rx.event
    def load(self):
        _actor, redirect = self._guard("patient")
        return redirect


def portal_page() -> rx.Component:
    return app_shell(
        rx.heading("Messages with your care team", size="6", as_="h1", padding="1em"),
        user_name=AuthState.user_name,
        nav=[nav_link("Messages", "/portal")],
    )
