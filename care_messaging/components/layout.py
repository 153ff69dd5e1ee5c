"""The page frame shared by every signed-in page: brand, navigation, user, sign-out."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.native_form import native_form
from care_messaging.components.session_timer import session_timer
from care_messaging.web.origins import LOGOUT_ACTION, backend_url


def sign_out_form() -> rx.Component:
    """A real form POST: the route revokes the session and clears the HttpOnly cookie."""
    return native_form(
        rx.button("Sign out", type="submit", variant="soft", size="2"),
        action=backend_url(LOGOUT_ACTION),
        method="post",
    )


def nav_link(label: str, href: str, badge: rx.Var | None = None) -> rx.Component:
    children: list[rx.Component] = [rx.text(label)]
    if badge is not None:
        children.append(
            rx.cond(
                badge > 0,
                rx.badge(badge, color_scheme="red", variant="solid", radius="full",
                         aria_label=f"{badge} unread"),
            )
        )
    return rx.link(rx.hstack(*children, spacing="2", align="center"), href=href,
                   underline="none", weight="medium")


def app_shell(
    *content: rx.Component,
    user_name: rx.Var,
    nav: list[rx.Component],
    fill_viewport: bool = False,
) -> rx.Component:
    """Header with navigation and the signed-in user, then the page content.

    ``fill_viewport``: on a desktop the content stretches to the bottom of the window (the
    dashboard's list and thread end at the window's edge, the reply box on screen)."""
    return rx.box(
        rx.el.header(
            rx.hstack(
                rx.hstack(
                    rx.icon("message-square-heart", size=22, color=rx.color("teal", 9)),
                    rx.heading("Care Messaging", size="4", class_name="hide-narrow"),
                    align="center",
                    spacing="2",
                ),
                rx.el.nav(rx.hstack(*nav, spacing="4", align="center"), aria_label="Main"),
                rx.spacer(),
                rx.text(user_name, size="2", color_scheme="gray", class_name="hide-narrow"),
                sign_out_form(),
                align="center",
                spacing="4",
                width="100%",
                # On a phone a wide nav (a three-digit unread badge, a long name) wraps onto a
                # second line instead of pushing "Sign out" off the screen.
                flex_wrap="wrap",
                row_gap="0.4em",
            ),
            padding_x="1em",
            padding_y="0.6em",
            border_bottom=f"1px solid {rx.color('gray', 5)}",
            background=rx.color("gray", 1),
        ),
        rx.el.main(*content, width="100%"),
        session_timer(),
        min_height="100vh",
        class_name="cm-fill" if fill_viewport else "",
    )
