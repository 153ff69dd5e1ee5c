"""Retract, correct, history and drafts in the thread pages (both sides).

A Reflex state mixin over ``ThreadPageState``: thin handlers that resolve the actor from the
session (``@guarded``), call one service (services/message_changes.py, services/drafts.py)
and set vars. Every message or conversation id from the browser is re-checked by the
service; a forged one is "Message not found." like a missing one. A change made in another
tab (or by the other side) arrives as a ``message_changed`` live event and replaces the row.
"""

from __future__ import annotations

import reflex as rx

from care_messaging.db import session_scope
from care_messaging.presenters.provider import message_row, when
from care_messaging.realtime import LiveKind
from care_messaging.services import drafts
from care_messaging.services import message_changes as changes
from care_messaging.services.actors import Actor
from care_messaging.services.errors import ServiceError
from care_messaging.services.message_sending import MAX_BODY_CHARS
from care_messaging.services.message_views import MessageView
from care_messaging.state.guarded import PAGE_ROLE, guarded
from care_messaging.state.shared_values import NO_ROWS, no_rows
from care_messaging.state.thread_base import parse_id
from care_messaging.state.thread_page import ThreadPageState
from care_messaging.web.origins import attachment_href


class MessageChangesState(ThreadPageState, mixin=True):
    # The message being corrected ("" for none) and its text when the dialog opened.
    change_id: str = ""
    change_text: str = ""
    change_error: str = ""
    # A provider's view of one message's history: original, corrections, retraction.
    history_open: bool = False
    history_rows: list[dict[str, str]] = rx.field(default_factory=no_rows)
    # The original's files (name, href), still open to providers after a retraction.
    history_files: list[dict[str, str]] = rx.field(default_factory=no_rows)
    # The signed-in user's server-kept draft of the open conversation, and which conversation
    # it belongs to: assets/drafts.js puts it in an empty reply box. Emptied with the tab's
    # whole state on sign-out (state/tab_owner.py).
    draft: str = ""
    draft_for: str = ""

    # ----- what the thread shows -----
    def _show_change(self, view: MessageView, actor: Actor) -> None:
        """Replace a shown message by what it says now, keeping its delivery status."""
        new = message_row(view, actor)
        key = str(view.id)
        self._change_rows(lambda r: {**new, "status": r.get("status", ""),
                                     "read_at": r.get("read_at", "")}
                          if r.get("id") == key else r)
        if view.state == "retracted":  # its files are no longer offered either
            kept = [a for a in self.thread_attachments if a.get("message_id") != key]
            if len(kept) != len(self.thread_attachments):
                self.thread_attachments = kept

    def _on_open(self, session, actor: Actor, conversation) -> None:
        self.change_id = self.change_text = self.change_error = ""
        self.history_open, self.history_rows, self.history_files = False, NO_ROWS, NO_ROWS
        self.draft = drafts.draft_text(session, actor=actor, conversation_id=conversation.id)
        self.draft_for = str(conversation.id)

    # ----- retract and correct -----
    @guarded(PAGE_ROLE)
    def retract(self, actor: Actor, message_id: str):
        self.change_error = ""
        self._apply_change(actor, changes.retract_message, message_id=parse_id(message_id))
        return None

    def _apply_change(self, actor: Actor, change, **args) -> bool:
        """Run one retract/correct service call; show the changed row and the list's preview,
        or the refusal. True when it was made."""
        with session_scope() as session:
            try:
                view = change(session, actor=actor, **args)
            except ServiceError as error:
                self.change_error = str(error)
                return False
            if view.conversation_id == parse_id(self.open_id):
                self._show_change(view, actor)
            self._refresh(session, actor)  # the list's preview
        return True

    @guarded(PAGE_ROLE)
    def start_correct(self, actor: Actor, message_id: str):
        """Open the correction box on one of the shown messages (its text as it is now)."""
        row = next((r for r in self._thread_rows() if r.get("id") == str(message_id)
                    and r.get("changeable") == "1"), None)
        self.change_error = ""
        self.change_id, self.change_text = (row["id"], row["body"]) if row else ("", "")
        return None

    @rx.event
    def cancel_correct(self):
        self.change_id = self.change_text = self.change_error = ""

    @guarded(PAGE_ROLE)
    def correct(self, actor: Actor, form_data: dict):
        message_id = parse_id(form_data.get("message_id") or self.change_id)
        body = str(form_data.get("body", ""))[:MAX_BODY_CHARS + 1]
        if self._apply_change(actor, changes.correct_message, message_id=message_id, body=body):
            self.change_id = self.change_text = self.change_error = ""
        return None

    # ----- history (providers) -----
    @guarded(PAGE_ROLE)
    def open_history(self, actor: Actor, message_id: str):
        with session_scope() as session:
            try:
                entries = changes.message_history(session, actor=actor,
                                                  message_id=parse_id(message_id))  # type: ignore[arg-type]
            except ServiceError as error:
                self.change_error = str(error)
                return None
        labels = {"original": "Original", "correct": "Corrected", "retract": "Retracted"}
        self.history_rows = [{"kind": labels.get(e.kind, e.kind), "text": e.text,
                              "when": when(e.at), "by": e.by} for e in entries]
        self.history_files = [{"name": name, "href": attachment_href(aid, download=True)}
                              for aid, name in (entries[0].files if entries else ())]
        self.history_open = True
        return None

    @rx.event
    def close_history(self):
        self.history_open, self.history_rows, self.history_files = False, NO_ROWS, NO_ROWS

    # ----- drafts -----
    @guarded(PAGE_ROLE)
    def save_draft(self, actor: Actor, data: dict):
        """The reply box paused (assets/drafts.js): keep its text as this user's draft of that
        conversation (it names the conversation: the box may have moved on since)."""
        conversation_id = parse_id(data.get("conversation_id") if isinstance(data, dict) else None)
        body = str(data.get("body", "")) if isinstance(data, dict) else ""
        if conversation_id is None:
            return None
        with session_scope() as session:
            try:
                saved = drafts.save_draft(session, actor=actor, conversation_id=conversation_id,
                                          body=body)
            except ServiceError:
                return None  # a draft is never worth an error on screen
            if str(conversation_id) == self.draft_for:
                self.draft = body if saved.has_draft else ""
            if saved.listed_changed:
                self._refresh(session, actor)  # "Draft" appears or goes in the list
        return None

    # ----- live -----
    async def _apply_live_event(self, event) -> bool:
        if event.kind != LiveKind.MESSAGE_CHANGED:
            return await super()._apply_live_event(event)
        actor = await self._live_actor()
        if actor is None:
            return False
        if event.message is not None and event.conversation_id == parse_id(self.open_id):
            # The event reached us because we are a participant as of its commit.
            self._show_change(event.message, actor)
        return True  # the list's preview follows
