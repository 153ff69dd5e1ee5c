"""Patient portal pieces: conversation list, chat, attachments bar, new-conversation dialog."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.attach_bar import UPLOAD_ID, attach_bar
from care_messaging.components.local_time import local_time
from care_messaging.components.message_log import message_log
from care_messaging.components.provider_format import CATEGORY_LABELS

EMERGENCY = "For emergencies call 911 or your local emergency number."


def _conversation_row(row: rx.Var) -> rx.Component:
    unread = row["unread"] != "0"
    return rx.link(
        rx.vstack(
            rx.hstack(
                rx.text(row["topic"], weight="bold", size="3", trim="both"),
                rx.spacer(),
                rx.cond(unread, rx.badge(row["unread"], color_scheme="red", variant="solid",
                                         radius="full", aria_label=f"{row['unread']} unread",
                                         class_name="unread-badge")),
                width="100%", align="center",
            ),
            rx.text(row["provider"], size="2"),
            rx.hstack(
                rx.badge(row["status"], color_scheme=row["status_color"]),
                rx.badge(row["priority"], color_scheme=row["priority_color"], variant="outline"),
                rx.badge(row["medium"], color_scheme="blue", variant="soft"),
                spacing="1", wrap="wrap",
            ),
            rx.text(row["category"], " · ", row["reason"], size="1", color_scheme="gray"),
            rx.text(row["preview"], size="1", color_scheme="gray",
                    style={"overflow": "hidden", "textOverflow": "ellipsis",
                           "whiteSpace": "nowrap", "maxWidth": "100%"}),
            rx.text(local_time(row["when"], "list"), size="1", color_scheme="gray"),
            spacing="1", width="100%", padding="0.8em",
            border_bottom=f"1px solid {rx.color('gray', 4)}",
        ),
        href=row["href"], underline="none", color_scheme="gray", high_contrast=True,
        role="listitem", aria_label=row["topic"], width="100%",
    )


def conversation_list(S) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Messages with your care team", size="5", as_="h1"),
            rx.spacer(),
            rx.button(rx.icon("plus", size=16), "New message", on_click=S.set_new_open(True)),
            width="100%", align="center", wrap="wrap", padding="0.8em",
        ),
        rx.cond(
            S.conversations.length() > 0,
            rx.vstack(rx.foreach(S.conversations, _conversation_row), role="list",
                      aria_label="Conversations", width="100%", spacing="0"),
            rx.cond(
                S.list_loaded,
                rx.text("No messages yet. Start a conversation with your care team with "
                        "“New message”.", color_scheme="gray", padding="1em"),
                # Not "no messages" while the page is still asking for them.
                rx.text("Loading your messages…", color_scheme="gray", padding="1em",
                        role="status"),
            ),
        ),
        rx.cond(S.has_more, rx.button("Load more", on_click=S.load_more, variant="soft",
                                      align_self="center", margin="0.5em")),
        width="100%", spacing="0",
    )


def _composer(S) -> rx.Component:
    return rx.vstack(
        rx.cond(S.send_error != "",
                rx.callout(S.send_error, icon="triangle-alert", color_scheme="red",
                           role="alert", width="100%")),
        rx.text(S.typing_label, size="1", color_scheme="gray", role="status",
                aria_live="polite", min_height="1.2em"),
        rx.form(
            rx.el.input(type="hidden", name="client_msg_id", value=S.compose_id),
            rx.hstack(
                rx.text_area(name="body", placeholder="Type your message… (Enter sends)",
                             aria_label="Message", enter_key_submit=True, auto_height=True,
                             width="100%", max_length=5000, rows="2",
                             on_change=S.typing.throttle(1500)),
                rx.button(rx.icon("send", size=16), "Send", type="submit"),
                width="100%", align="end",
            ),
            on_submit=S.send_reply, reset_on_submit=True, width="100%",
        ),
        attach_bar(S, UPLOAD_ID),
        width="100%", padding="0.75em", border_top=f"1px solid {rx.color('gray', 5)}",
    )


def viewers_panel(S) -> rx.Component:
    """Who on the care team opened this conversation: no other portal shows patients this."""
    return rx.el.details(
        rx.el.summary(rx.text("Who on your care team viewed this (", S.viewers.length(), ")",
                              size="1", as_="span")),
        rx.cond(
            S.viewers.length() > 0,
            rx.el.ul(rx.foreach(S.viewers, lambda v: rx.el.li(
                rx.text(v["name"], " · ", local_time(v["when"], "bubble"), size="1")))),
            rx.text("Nobody on your care team has opened it yet.", size="1",
                    color_scheme="gray"),
        ),
        style={"padding": "0 0.75em", "fontSize": "13px"},
    )


def chat(S) -> rx.Component:
    h = S.header
    return rx.vstack(
        rx.hstack(
            rx.button(rx.icon("x", size=16), "Close", variant="soft", on_click=S.close_chat,
                      aria_label="Close chat"),
            rx.vstack(
                rx.heading(h["topic"], size="4", as_="h2"),
                rx.text(h["provider"], " · ", h["category"], size="1", color_scheme="gray"),
                spacing="0", min_width="0",
            ),
            rx.spacer(),
            rx.badge(h["status"], color_scheme=h["status_color"]),
            width="100%", align="center", padding="0.6em",
            border_bottom=f"1px solid {rx.color('gray', 5)}",
        ),
        rx.callout(EMERGENCY, icon="siren", color_scheme="red", size="1", width="100%",
                   role="note"),
        viewers_panel(S),
        message_log(S),
        rx.cond(
            S.read_only,
            rx.callout(
                "This conversation has been marked completed by your care team, so it can no "
                "longer receive replies. Start a new conversation if you need anything else.",
                icon="lock", color_scheme="gray", width="100%", role="status",
            ),
            _composer(S),
        ),
        width="100%", height="calc(100vh - 60px)", spacing="0",
    )


def new_conversation_dialog(S) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New message to your care team"),
            rx.form(
                rx.vstack(
                    rx.cond(S.new_error != "",
                            rx.callout(S.new_error, icon="triangle-alert", color_scheme="red",
                                       role="alert", width="100%")),
                    rx.el.label("Category", html_for="new-category"),
                    rx.el.select(
                        *[rx.el.option(label, value=value)
                          for value, label in CATEGORY_LABELS.items()],
                        id="new-category", name="category", default_value="check_in",
                        style={"padding": "6px", "borderRadius": "6px", "width": "100%"},
                    ),
                    rx.el.label("Topic", html_for="new-topic"),
                    rx.input(id="new-topic", name="topic", max_length=200, width="100%",
                             placeholder="e.g. Question about my medication"),
                    rx.el.label("Message", html_for="new-body"),
                    rx.text_area(id="new-body", name="body", max_length=5000, rows="4",
                                 width="100%"),
                    rx.text(EMERGENCY, size="1", color_scheme="red"),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", type="button")),
                        rx.button("Send message", type="submit"),
                        justify="end", width="100%",
                    ),
                    width="100%",
                ),
                on_submit=S.create, width="100%",
            ),
        ),
        open=S.new_open,
        on_open_change=S.set_new_open,
    )
