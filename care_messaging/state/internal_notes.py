"""Staff-only notes in the open thread of the provider dashboard.

A Reflex state mixin for ``DashboardState`` only: the patient portal's state has no notes
var at all, so no delta to a patient's tab can carry one. Notes are read through
``services/internal_notes.py`` (the care team's providers only) when a thread opens, after
this tab adds one, and when a colleague's note arrives (a live "note" event, which holds no
text: the tab reloads them through the access-checked service).
"""

from __future__ import annotations

import reflex as rx

from care_messaging.db import session_scope
from care_messaging.presenters.provider import note_row
from care_messaging.services import internal_notes
from care_messaging.services.actors import Actor
from care_messaging.services.errors import ServiceError
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import PAGE_ROLE, guarded
from care_messaging.state.shared_values import NO_ROWS, no_rows
from care_messaging.state.thread_base import parse_id


class InternalNotesState(AuthState, mixin=True):
    notes: list[dict[str, str]] = rx.field(default_factory=no_rows)
    note_error: str = ""

    def _load_notes(self, session, actor: Actor, conversation_id: int) -> None:
        self.notes = [note_row(v, actor) for v in internal_notes.list_notes(
            session, actor=actor, conversation_id=conversation_id)]

    def _clear_notes(self) -> None:
        self.notes = NO_ROWS
        self.note_error = ""

    def _notes_live(self, actor: Actor, events: list) -> None:
        """A colleague added a note: reload the open thread's notes if it was there."""
        open_id = parse_id(self.open_id)
        if open_id is None or open_id not in {e.conversation_id for e in events}:
            return
        with session_scope() as session:
            try:
                self._load_notes(session, actor, open_id)
            except ServiceError:
                self._clear_notes()

    @guarded(PAGE_ROLE)
    def add_note(self, actor: Actor, form_data: dict):
        """Add a staff-only note to the open conversation (checked by the service: only its
        care team's providers; the text is never sent to the patient)."""
        conversation_id = parse_id(self.open_id)
        if conversation_id is None:
            return None
        self.note_error = ""
        body = str(form_data.get("note", ""))[: internal_notes.MAX_NOTE_CHARS + 1]
        with session_scope() as session:
            try:
                internal_notes.add_note(session, actor=actor, conversation_id=conversation_id,
                                        body=body)
                self._load_notes(session, actor, conversation_id)
            except ServiceError as error:
                session.rollback()
                self.note_error = str(error)
                return None
        return rx.set_value("note-body", "")
