"""Retract, correct and history in a thread, and the link to the browser's draft keeper.

The same for providers and patients; ``S`` is a page state with ``MessageChangesState``
(state/message_changes.py). Texts render as text, never HTML.
"""

from __future__ import annotations

import reflex as rx

from care_messaging.components.error_notice import error_notice
from care_messaging.components.local_time import local_time
from care_messaging.services.message_sending import MAX_BODY_CHARS


def edited_mark(m: rx.Var) -> rx.Component:
    """"edited" beside a corrected message's time."""
    return rx.cond(m["state"] == "edited",
                   rx.text("edited", size="1", color_scheme="gray", class_name="message-edited",
                           title="Corrected by the sender"))


def change_controls(m: rx.Var, S) -> rx.Component:
    """Correct and Retract on the sender's own recent messages; History for providers on a
    changed one. Each press is re-checked by the service (own message, window, access)."""
    return rx.hstack(
        rx.cond(m["changeable"] == "1", rx.fragment(
            rx.button("Correct", size="1", variant="ghost", on_click=S.start_correct(m["id"]),
                      aria_label="Correct this message"),
            rx.button("Retract", size="1", variant="ghost", color_scheme="red",
                      on_click=S.retract(m["id"]), aria_label="Retract this message"),
        )),
        rx.cond(m["history"] == "1",
                rx.button("History", size="1", variant="ghost",
                          on_click=S.open_history(m["id"]),
                          aria_label="Show the history of this message")),
        spacing="3", justify="end", class_name="message-changes",
    )


def _correct_dialog(S) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Correct your message"),
            rx.dialog.description("The other side sees the new text marked “edited”; the "
                                  "original stays in the record.", size="2"),
            rx.form(
                rx.vstack(
                    error_notice(S.change_error),
                    rx.el.input(type="hidden", name="message_id", value=S.change_id),
                    # Keyed by the message: a second correction starts from its own text.
                    rx.text_area(name="body", default_value=S.change_text, key=S.change_id,
                                 max_length=MAX_BODY_CHARS, rows="4", width="100%",
                                 aria_label="Corrected message"),
                    rx.hstack(
                        rx.button("Cancel", variant="soft", type="button",
                                  on_click=S.cancel_correct),
                        rx.button("Save correction", type="submit"),
                        justify="end", width="100%",
                    ),
                    width="100%",
                ),
                on_submit=S.correct, reset_on_submit=False, width="100%",
            ),
        ),
        open=S.change_id != "",
        on_open_change=lambda _open: S.cancel_correct(),
    )


def _history_dialog(S) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Message history"),
            rx.dialog.description("The original and every change, oldest first.", size="2"),
            rx.vstack(
                rx.foreach(S.history_rows, lambda h: rx.box(
                    rx.hstack(
                        rx.text(h["kind"], weight="bold", size="1"),
                        rx.text(h["by"], size="1"),
                        rx.text(local_time(h["when"], "bubble"), size="1", color_scheme="gray"),
                        spacing="2",
                    ),
                    rx.text(h["text"], size="2", white_space="pre-wrap"),
                    data_testid="history-entry", width="100%", padding="0.4em 0",
                    border_bottom=f"1px solid {rx.color('gray', 4)}",
                )),
                width="100%", spacing="1",
            ),
            rx.cond(S.history_files.length() > 0, rx.vstack(
                rx.text("Files of the original (kept in the record)", weight="bold", size="1"),
                rx.foreach(S.history_files, lambda f: rx.link(
                    f["name"], href=f["href"], is_external=True, size="2",
                    aria_label="Download " + f["name"].to(str))),
                spacing="1", margin_top="0.5em", data_testid="history-files")),
            rx.hstack(rx.button("Close", variant="soft", on_click=S.close_history),
                      justify="end", width="100%", margin_top="0.75em"),
        ),
        open=S.history_open,
        on_open_change=lambda _open: S.close_history(),
    )


def change_area(S) -> rx.Component:
    """Why a change was refused (outside the dialog too: a late Retract), and the dialogs."""
    return rx.fragment(
        error_notice(S.change_error, when=(S.change_error != "") & (S.change_id == "")),
        _correct_dialog(S),
        _history_dialog(S),
    )


def draft_link(S) -> rx.Component:
    """The server's draft of the open conversation, for assets/drafts.js: it fills an empty
    reply box with it (data-draft-for names the conversation it belongs to)."""
    return rx.el.div(id="draft-link", hidden=True,
                     custom_attrs={"data-draft": S.draft, "data-draft-for": S.draft_for})
