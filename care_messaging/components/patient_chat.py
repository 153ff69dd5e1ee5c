"""Patient portal pieces: conversation list, chat, attachments bar, new-conversation dialog."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.composer import composer
from care_messaging.components.error_notice import error_notice
from care_messaging.components.local_time import local_time
from care_messaging.components.message_log import message_log
from care_messaging.presenters.labels import PATIENT_CATEGORY_LABELS
from care_messaging.services.conversations import MAX_REASON_CHARS, MAX_TOPIC_CHARS
from care_messaging.services.message_sending import MAX_BODY_CHARS

EMERGENCY = "For emergencies call 911 or your local emergency number."


def _conversation_row(row: rx.Var) -> rx.Component:
    unread = row["unread"] != "0"
    return rx.link(
        rx.vstack(
            rx.hstack(
                rx.text(row["topic"], weight="bold", size="3", flex="1", min_width="0"),
                # The date sits in the same place on every row (top right, level with the
                # topic's first line, as messengers do), whatever the topic's length.
                rx.text(local_time(row["when"], "list"), size="1", color_scheme="gray",
                        white_space="nowrap", line_height="var(--line-height-3)",
                        class_name="row-when"),
                width="100%", align="start",
            ),
            rx.hstack(
                rx.text(row["provider"], size="2", class_name="row-provider", flex="1",
                        min_width="0"),
                rx.cond(unread, rx.badge(row["unread"], color_scheme="red", variant="solid",
                                         radius="full", aria_label=f"{row['unread']} unread",
                                         class_name="unread-badge")),
                width="100%", align="center",
            ),
            rx.hstack(
                rx.badge(row["status"], color_scheme=row["status_color"]),
                rx.badge(row["priority"], color_scheme=row["priority_color"], variant="outline"),
                rx.badge(row["medium"], color_scheme="blue", variant="soft"),
                spacing="1", wrap="wrap",
            ),
            rx.text(row["about"], size="1", color_scheme="gray", class_name="row-about"),
            rx.text(
                rx.cond(row["draft"] == "1",
                        rx.el.span("Draft", class_name="cm-draft", data_testid="draft")),
                rx.cond(row["last_sender"] != "",
                        rx.el.span(row["last_sender"], ": ", style={"fontWeight": 600})),
                row["preview"],
                size="1", color_scheme="gray", class_name="row-preview",
                style={"overflow": "hidden", "textOverflow": "ellipsis",
                       "whiteSpace": "nowrap", "maxWidth": "100%"}),
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
    return composer(S, label="Message", placeholder="Type your message… (Enter sends)")


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
                rx.text(h["subtitle"], size="1", color_scheme="gray"),
                rx.cond(h["reason"] != "",
                        rx.text("Reason: ", h["reason"], size="1", color_scheme="gray")),
                rx.cond(h["handler"] != "",
                        rx.text(h["handler"], size="2", weight="medium",
                                data_testid="handling")),
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
            rx.fragment(
                rx.text(S.reply_promise, size="1", color_scheme="gray",
                        data_testid="reply-promise", padding="0.4em 0.75em 0"),
                _composer(S),
            ),
        ),
        width="100%", height="calc(100vh - 60px)", spacing="0",
    )


def _dialog_field(label: str, control: rx.Component, id_: str,
                  hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=id_, style={"fontWeight": 500, "fontSize": "14px"}),
        control,
        rx.text(hint, size="1", color_scheme="gray", id=f"{id_}-hint") if hint else rx.fragment(),
        spacing="1", width="100%",
    )


def new_conversation_dialog(S) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New message to your care team"),
            rx.dialog.description("Tell your care team what this is about and why you are "
                                  "writing.", size="2"),
            rx.form(
                rx.vstack(
                    error_notice(S.new_error),
                    _dialog_field("Topic", rx.input(
                        id="new-topic", name="topic", max_length=MAX_TOPIC_CHARS, width="100%",
                        placeholder="e.g. Question about my medication"), "new-topic"),
                    _dialog_field("Category", rx.el.select(
                        rx.el.option("Choose the type of message", value="", disabled=True),
                        *[rx.el.option(label, value=str(value))
                          for value, label in PATIENT_CATEGORY_LABELS.items()],
                        id="new-category", name="category", default_value="",
                        style={"padding": "6px", "borderRadius": "6px", "width": "100%"},
                    ), "new-category"),
                    _dialog_field("Reason", rx.input(
                        id="new-reason", name="reason", max_length=MAX_REASON_CHARS,
                        width="100%", placeholder="e.g. Refill before my trip",
                        aria_describedby="new-reason-hint"),
                        "new-reason", hint="A few words on why you are writing."),
                    _dialog_field("Message", rx.text_area(
                        id="new-body", name="body", max_length=MAX_BODY_CHARS, rows="4", width="100%"),
                        "new-body"),
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
