"""Staff-only notes in the provider's open thread: amber, labelled, apart from the messages."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.error_notice import error_notice
from care_messaging.components.local_time import local_time
from care_messaging.services.internal_notes import MAX_NOTE_CHARS

NOTE_LABEL = "Internal note — not visible to the patient"


def _note(note: rx.Var) -> rx.Component:
    return rx.box(
        rx.text(NOTE_LABEL, size="1", weight="bold", class_name="cm-note-label"),
        # Text, never HTML: a note is rendered as written.
        rx.text(note["body"], size="2", white_space="pre-wrap"),
        rx.text(note["author"], " · ", local_time(note["when"], "bubble"), size="1",
                color_scheme="gray"),
        class_name="cm-note", role="note", data_testid="internal-note",
    )


def internal_notes_panel(S) -> rx.Component:
    """``S`` has ``notes``, ``note_error`` and ``add_note``."""
    return rx.el.details(
        rx.el.summary(rx.text("Internal notes (", S.notes.length(), ") — care team only",
                              size="2", weight="medium", as_="span")),
        rx.box(rx.foreach(S.notes, _note), class_name="cm-notes-list"),
        error_notice(S.note_error, size="1"),
        rx.form(
            rx.hstack(
                rx.text_area(id="note-body", name="note", aria_label="Internal note",
                             placeholder="Note for the care team (the patient never sees it)",
                             max_length=MAX_NOTE_CHARS, rows="2", width="100%"),
                rx.button("Add note", type="submit", color_scheme="amber"),
                width="100%", align="end",
            ),
            on_submit=S.add_note, reset_on_submit=False, width="100%",
        ),
        open=True, class_name="cm-notes",
    )
