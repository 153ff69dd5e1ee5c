"""Provider sidebar: filter tabs, search, conversation rows, "Load more"."""

from __future__ import annotations

import reflex as rx

MOBILE_HIDE = {"@media (min-width: 768px)": {"display": "flex"}}


def _row(row: rx.Var, selected_id: rx.Var) -> rx.Component:
    unread = row["unread"] != "0"
    return rx.box(
        rx.hstack(
            rx.avatar(fallback=row["initials"], size="3", radius="full", color_scheme="teal"),
            rx.vstack(
                rx.hstack(
                    rx.link(row["topic"], href="/dashboard?c=" + row["id"].to(str),
                            weight="bold", size="2",
                            color_scheme="gray", high_contrast=True, underline="none",
                            class_name="conversation-link", trim="both"),
                    rx.spacer(),
                    rx.cond(
                        unread,
                        rx.box(width="10px", height="10px", border_radius="50%",
                               background=rx.color("red", 9), class_name="unread-dot",
                               aria_label="unread", role="status",
                               style={"animation": "pulse 1.5s ease-in-out infinite"}),
                    ),
                    width="100%", align="center",
                ),
                rx.link(row["patient_name"], href="/patients?id=" + row["patient_id"].to(str),
                        size="2",
                        aria_label=f"Profile of {row['patient_name']}"),
                rx.text(row["preview"], size="1", color_scheme="gray", trim="both",
                        style={"overflow": "hidden", "textOverflow": "ellipsis",
                               "whiteSpace": "nowrap", "maxWidth": "260px"}),
                rx.hstack(
                    rx.text(rx.cond(row["count"] == "1", "1 message",
                                    row["count"].to(str) + " messages"),
                            size="1", color_scheme="gray"),
                    rx.text("ID ", row["mrn"], size="1", color_scheme="gray"),
                    rx.cond(unread, rx.badge(row["unread"], " unread", color_scheme="red",
                                             size="1")),
                    rx.spacer(),
                    rx.text(row["when"], size="1", color_scheme="gray"),
                    width="100%", spacing="2", wrap="wrap",
                ),
                spacing="1", width="100%", min_width="0",
            ),
            spacing="3", width="100%",
        ),
        padding="0.75em",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        background=rx.cond(row["id"] == selected_id, rx.color("teal", 3), "transparent"),
        aria_current=rx.cond(row["id"] == selected_id, "true", "false"),
        data_testid="conversation-row",
        role="listitem",
    )


def provider_sidebar(S) -> rx.Component:
    tabs = rx.tabs.root(
        rx.tabs.list(
            rx.tabs.trigger("All", value="all"),
            rx.tabs.trigger("Unread", value="unread"),
            rx.tabs.trigger("Read", value="read"),
        ),
        value=S.filter_by,
        on_change=S.set_filter,
    )
    return rx.vstack(
        rx.hstack(
            rx.heading("Conversations", size="4", as_="h2"),
            rx.spacer(),
            rx.button(rx.icon("plus", size=16), "New Message", on_click=S.set_new_open(True),
                      size="2"),
            width="100%", align="center",
        ),
        tabs,
        rx.input(placeholder="Search topic, patient name or ID", value=S.search,
                 on_change=S.set_search.debounce(300), aria_label="Search conversations",
                 width="100%", type="search"),
        rx.text(S.conversations.length(), " of ", S.total_rows, " conversations",
                size="1", color_scheme="gray", data_testid="list-count"),
        rx.cond(
            S.total_rows == 0,
            rx.callout("No conversations match", icon="search-x", color_scheme="gray",
                       width="100%"),
        ),
        rx.box(
            rx.foreach(S.conversations, lambda row: _row(row, S.open_id)),
            role="list", aria_label="Conversations", width="100%",
        ),
        rx.cond(S.has_more, rx.button("Load more", on_click=S.load_more, variant="soft",
                                      width="100%")),
        width=["100%", "100%", "380px"],
        min_width=["100%", "100%", "380px"],
        padding="1em",
        spacing="3",
        border_right=f"1px solid {rx.color('gray', 5)}",
        display=rx.cond(S.open_id != "", "none", "flex"),
        style=MOBILE_HIDE,
        overflow_y="auto",
        max_height=["none", "none", "min(75vh, 900px)"],
    )
