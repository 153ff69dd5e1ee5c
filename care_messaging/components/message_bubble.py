"""One message in a thread, the same for providers and patients."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.attachments import message_attachments
from care_messaging.components.local_time import local_time
from care_messaging.components.message_changes import change_controls, edited_mark
from care_messaging.services.red_flags import SAFETY_NOTICE


def message_bubble(m: rx.Var, S) -> rx.Component:
    """Sender, time, text (always as text), attachments, and for your own messages the
    delivery status. ``S`` has ``thread_attachments`` and ``highlight_seq`` (a search result
    opened: state/message_jump.py). A stored message of your own carries its client id: the
    outbox script (assets/outbox.js) drops its bubble when it appears."""
    mine = m["mine"] == "1"
    found = (m["seq"] != "") & (m["seq"] == S.highlight_seq)
    return rx.box(
        rx.hstack(
            rx.text(m["sender"], weight="bold", size="1", class_name="message-sender"),
            rx.text(local_time(m["when"], "bubble"), size="1", color_scheme="gray",
                    class_name="message-time"),
            edited_mark(m),
            spacing="2",
        ),
        # A retracted message shows only the notice (services/message_revisions.py).
        rx.text(m["body"], size="2", white_space="pre-wrap",
                class_name=rx.cond(m["state"] == "retracted", "message-body message-retracted",
                                   "message-body")),
        rx.cond(m["safety"] == "1",
                rx.callout(SAFETY_NOTICE, icon="siren", color_scheme="red", size="1",
                           role="alert", data_testid="red-flag-notice", margin_top="0.4em")),
        message_attachments(S.thread_attachments, m["id"]),
        rx.cond(
            mine,
            rx.hstack(
                rx.text(m["status"],
                        rx.cond(m["read_at"] != "",
                                rx.fragment(" ", local_time(m["read_at"], "receipt"))),
                        size="1", color_scheme="gray", class_name="message-status"),
                justify="end", align="center", spacing="2",
            ),
        ),
        change_controls(m, S),
        align_self=rx.cond(mine, "flex-end", "flex-start"),
        background=rx.cond(mine, rx.color("teal", 3), rx.color("gray", 3)),
        padding="0.5em 0.75em", border_radius="10px", max_width="85%",
        outline=rx.cond(found, f"3px solid {rx.color('amber', 9)}", "none"),
        outline_offset="2px",
        role="article", data_testid="message",
        # assets/jump_to_message.js scrolls the found message into view.
        custom_attrs={"data-client-id": m["client_id"], "data-state": m["state"],
                      "data-found": rx.cond(found, "true", "false")},
    )
