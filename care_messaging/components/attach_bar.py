"""Attaching files to the next message, the same on both sides (portal and dashboard).

``S`` mixes in ``state/attachment_uploads.py``. The button opens the file picker; every file
goes to ``handle_upload`` (the server checks size and contents and explains a refusal), and
the waiting files show as chips (a thumbnail for images) that can be removed before sending.
"""

from __future__ import annotations

import reflex as rx

from care_messaging.components.error_notice import error_notice

MAX_FILES = 5
# One thread per page, so one upload area per page.
UPLOAD_ID = "chat-upload"


def _pending_chip(f: rx.Var, S) -> rx.Component:
    return rx.badge(
        rx.cond(
            f["is_image"] == "1",
            rx.image(src=f["href"], alt="", width="28px", height="28px",
                     object_fit="cover", border_radius="4px", class_name="pending-thumbnail"),
            rx.icon("paperclip", size=12, aria_hidden="true"),
        ),
        rx.text(f["name"], " (", f["size"], ")", as_="span"),
        rx.icon_button(rx.icon("x", size=12), size="1", variant="ghost",
                       aria_label=f"Remove {f['name']}",
                       on_click=lambda: S.remove_pending(f["id"])),
        variant="soft", size="2", role="listitem",
    )


def _label_file_input(component: rx.Component, label: str) -> None:
    """Name the dropzone's hidden file input (Reflex creates it without a way to pass props):
    screen readers and WCAG audits require every form field to have a name."""
    for child in component.children:
        if getattr(child, "tag", None) == "input":
            child.custom_attrs["aria-label"] = label
        _label_file_input(child, label)


def attach_bar(S, upload_id: str) -> rx.Component:
    """Upload errors, progress, the waiting files, and the Attach button."""
    upload = rx.upload.root(
        rx.button(rx.icon("paperclip", size=16), "Attach", type="button", variant="soft",
                  aria_label="Attach files"),
        id=upload_id,
        # No client-side type filter: the server checks the bytes and explains any refusal.
        multiple=True,
        max_files=MAX_FILES,
        no_drag=True,
        on_drop=S.handle_upload(
            rx.upload_files(upload_id=upload_id, on_upload_progress=S.set_upload_progress)
        ),
    )
    _label_file_input(upload, "Choose files to attach")
    return rx.vstack(
        error_notice(S.upload_error),
        rx.cond(S.uploading,
                rx.vstack(rx.text("Uploading…", size="1"),
                          rx.progress(value=S.upload_progress, max=100, width="100%",
                                      aria_label="Upload progress"), width="100%")),
        rx.cond(S.open_pending_files.length() > 0,
                rx.hstack(rx.foreach(S.open_pending_files, lambda f: _pending_chip(f, S)),
                          wrap="wrap", spacing="2", role="list", aria_label="Files to send")),
        upload,
        width="100%", spacing="2",
    )
