"""Opening a thread at one message (a search result): the pages up to it are loaded and the
message is marked so the page scrolls to it and highlights it (assets/jump_to_message.js).

A Reflex state mixin for the thread pages. The conversation itself is opened and access-checked
by ``ThreadPageState._open_from_address`` first; the older pages loaded here re-check it.
"""

from __future__ import annotations

import reflex as rx

from care_messaging.db import session_scope
from care_messaging.presenters.patient import attachment_rows
from care_messaging.presenters.provider import message_row
from care_messaging.services.access import access_conversation
from care_messaging.services.actors import Actor
from care_messaging.services.errors import ServiceError
from care_messaging.services.message_views import list_messages
from care_messaging.state.auth import AuthState
from care_messaging.state.thread_base import parse_id
from care_messaging.state.thread_window import MAX_THREAD_ROWS

# How far back a jump loads at most (older than that: the newest rows before the target are
# not all shown, and the target is reached by "Load older messages" as usual).
MAX_JUMP_ROWS = MAX_THREAD_ROWS


class MessageJumpState(AuthState, mixin=True):
    # "<conversation id>:<seq>" of the message opened from a search result ("" for none):
    # with the conversation in it, a thread opened in place afterwards highlights nothing.
    highlight: str = ""

    def _jump_to(self, actor: Actor, raw_seq: object) -> None:
        # Run through offloop.run_db by the pages (it may read older messages).
        """Show the open thread down from message ``raw_seq`` and highlight it."""
        self.highlight = ""
        seq, conversation_id = parse_id(raw_seq), parse_id(self.open_id)
        if seq is None or conversation_id is None or seq > self._newest_seq:
            return
        if seq < self._oldest_seq:
            with session_scope() as session:
                try:
                    access_conversation(session, actor=actor, conversation_id=conversation_id)
                except ServiceError:
                    return
                views = list_messages(
                    session, conversation_id=conversation_id, before_seq=self._oldest_seq,
                    limit=min(self._oldest_seq - seq, MAX_JUMP_ROWS))
            if views:
                self.messages = [message_row(v, actor) for v in views] + self.messages
                self.thread_attachments = attachment_rows(views) + self.thread_attachments
                self._oldest_seq = views[0].seq
                self.has_older = self._oldest_seq > 1
        if seq >= self._oldest_seq:
            self.highlight = f"{conversation_id}:{seq}"

    @rx.var
    def highlight_seq(self) -> str:
        """The seq to highlight in the open thread, "" for none."""
        prefix = f"{self.open_id}:"
        return self.highlight.removeprefix(prefix) if self.highlight.startswith(prefix) else ""
