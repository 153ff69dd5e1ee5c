"""The "Search" entry of the provider and patient navigation: a magnifier with its word,
the word giving way on phones (``.hide-narrow``) so the header still fits "Sign out"."""

from __future__ import annotations

import reflex as rx

SEARCH_PATH = "/search"


def search_link() -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon("search", size=16, aria_hidden="true"),
                  rx.text("Search", class_name="hide-narrow"), spacing="1", align="center"),
        href=SEARCH_PATH, underline="none", weight="medium", aria_label="Search",
    )
