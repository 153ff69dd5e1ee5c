"""Attachment pieces shared by both threads: thumbnails for images, download links for all."""

from __future__ import annotations

import reflex as rx


def attachment_item(a: rx.Var) -> rx.Component:
    link = rx.el.a(
        rx.hstack(rx.icon("paperclip", size=14), rx.text(a["name"], size="1"),
                  rx.text(a["size"], size="1", color_scheme="gray"), spacing="1",
                  align="center"),
        href=a["download_href"],
        download=a["name"],
        # Reflex renders anchors as React Router links; a download must be a real request.
        reload_document=True,
        aria_label=f"Download {a['name']}",
        class_name="attachment-link",
    )
    return rx.vstack(
        rx.cond(
            a["is_image"] == "1",
            rx.el.a(
                rx.image(src=a["href"], alt=a["name"], max_width="180px", max_height="140px",
                         border_radius="6px", class_name="attachment-thumbnail"),
                href=a["href"], target="_blank", rel="noopener",
            ),
        ),
        link,
        spacing="1",
        align="start",
    )


def message_attachments(attachments: rx.Var, message_id: rx.Var) -> rx.Component:
    """The attachments of one message, from a flat list of rows carrying message_id."""
    return rx.foreach(
        attachments,
        lambda a: rx.cond(a["message_id"] == message_id, attachment_item(a)),
    )
