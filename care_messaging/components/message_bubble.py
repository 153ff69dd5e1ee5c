"""One message in a thread, the same for providers and patients."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.attachments import message_attachments


def message_bubble(m: rx.Var, S) -> rx.Component:
    """Sender, time, text (always as text), attachments, and for your own messages the
    delivery status. ``S`` has ``thread_attachments``. A stored message of your own carries
    its client id: the outbox script (assets/outbox.js) drops its bubble when it appears."""
    mine = m["mine"] == "1"
    return rx.box(
        rx.hstack(
            rx.text(m["sender"], weight="bold", size="1", class_name="message-sender"),
            rx.text(m["when"], size="1", color_scheme="gray", class_name="message-time"),
            spacing="2",
        ),
        rx.text(m["body"], size="2", white_space="pre-wrap", class_name="message-body"),
        message_attachments(S.thread_attachments, m["id"]),
        rx.cond(
            mine,
            rx.hstack(
                rx.text(m["status"], size="1", color_scheme="gray", class_name="message-status"),
                justify="end", align="center", spacing="2",
            ),
        ),
        align_self=rx.cond(mine, "flex-end", "flex-start"),
        background=rx.cond(mine, rx.color("teal", 3), rx.color("gray", 3)),
        padding="0.5em 0.75em", border_radius="10px", max_width="85%",
        role="article", data_testid="message",
        custom_attrs={"data-client-id": m["client_id"]},
    )
