"""What the page shows while its connection to the server is lost, in place of Reflex's own
"Cannot connect to server" toast (which sits over the reply box and Send on a phone).

A slim notice at the top of the screen, never over the composer; and a hidden marker the
outbox script (assets/outbox.js) reads to know when to hold messages and when to send them.
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.core.banner import has_connection_errors

LOST = ("Connection lost. Reconnecting… Messages you send are kept and go out when the "
        "connection is back.")


def connection_notice() -> rx.Component:
    return rx.fragment(
        rx.el.div(id="connection-state", hidden=True,
                  custom_attrs={"data-online": rx.cond(has_connection_errors, "0", "1")}),
        rx.cond(
            has_connection_errors,
            rx.el.div(
                rx.icon("wifi-off", size=14, aria_hidden="true"),
                rx.el.span(LOST),
                role="status", class_name="connection-lost",
            ),
        ),
    )


def overlay(stateful: bool) -> rx.Component | None:
    """The app-wrap entry that replaces Reflex's default overlay (see care_messaging.py)."""
    return connection_notice() if stateful else None
