"""Patient portal state: the patient's conversations, one chat, attachments, new conversation.

The list, the open thread, sending and live updates are shared with the provider dashboard
(``state/thread_page.py``); this module adds who viewed the thread, completed (read-only)
conversations, files waiting to be sent, and the New Conversation dialog. Every public handler
resolves the patient from the server-side session (``@guarded``, state/guarded.py); every id
from the browser is re-checked by a service (forbidden and nonexistent look the same).
"""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from care_messaging.models import ConversationStatus
from care_messaging.presenters.patient import patient_conversation_row
from care_messaging.presenters.provider import joined, when
from care_messaging.services import audit_log, conversation_list, reply_by, view_audit
from care_messaging.services.actors import Actor
from care_messaging.state import figure_cache
from care_messaging.state.attachment_uploads import NO_OPEN_THREAD, AttachmentUploadsState
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import PAGE_ROLE, guarded
from care_messaging.state.message_changes import MessageChangesState
from care_messaging.state.message_jump import MessageJumpState
from care_messaging.state.shared_values import NO_ROWS, no_rows
from care_messaging.state.thread_page import ThreadPageState
from care_messaging.web import offloop

COMPLETED_NOTE = ("This conversation has been marked completed by your care team, so it can no "
                  "longer receive replies. Start a new conversation if you need anything else.")


class PortalState(AttachmentUploadsState, MessageJumpState, MessageChangesState,
                  ThreadPageState, AuthState):
    ROLE: ClassVar[str] = "patient"
    PAGE_PATH: ClassVar[str] = "/portal"
    EMPTY_SEND_ERROR: ClassVar[str] = "Write a message or attach a file before sending."

    # Chat
    read_only: bool = False
    viewers: list[dict[str, str]] = rx.field(default_factory=no_rows)
    # "Your care team usually replies within 2 business days." (services/reply_by.py)
    reply_promise: str = ""
    # Files waiting to be sent: state/attachment_uploads.py
    # New conversation dialog

    # ----- page hooks (backend only) -----
    def _refresh(self, session, actor: Actor, fresh_after: float | None = None) -> None:
        def compute():
            return (conversation_list.list_conversations(session, actor=actor,
                                                         limit=self.list_limit),
                    conversation_list.unread_total(session, actor=actor))

        key = ("portal", actor.user_id, self.list_limit)
        page, unread = figure_cache.reuse_or_compute(key, compute, fresh_after=fresh_after)
        if fresh_after is None:  # a list the user asked for; a live update is no new view
            view_audit.record_list_view(session, actor=actor, kind="portal",
                                        rows=len(page.rows), patient_id=actor.patient_id)
        self._set_changed(conversations=[patient_conversation_row(r, actor.user_id)
                                         for r in page.rows],
                          total_rows=page.total, list_loaded=True, nav_unread=unread)

    def _close_thread(self) -> None:
        ThreadPageState._close_thread(self)
        self.read_only = False
        self.viewers = NO_ROWS
        self.reply_promise = ""

    def _set_header(self, session, actor: Actor, conversation) -> None:
        self.header = patient_conversation_row(
            conversation_list.get_row(session, actor=actor, conversation_id=conversation.id),
            actor.user_id)
        self.read_only = conversation.status == ConversationStatus.COMPLETED
        self.reply_promise = reply_by.patient_promise(reply_by.load(session),
                                                      conversation.priority)

    def _apply_receipts(self, session, actor: Actor, conversation) -> None:
        """Receipts and "who viewed this" come from the same reads, and move together: a
        provider reading while the chat is open turns "Delivered" into "Read" and adds them
        to the viewers in the same update."""
        ThreadPageState._apply_receipts(self, session, actor, conversation)
        viewers = [{"name": v.name, "when": when(v.at), "label": joined(v.name, when(v.at))}
                   for v in audit_log.conversation_viewers(session, actor=actor,
                                                           conversation_id=conversation.id)]
        self._set_changed(viewers=viewers)

    def _send_refusal(self) -> str:
        return COMPLETED_NOTE if self.read_only else ""

    def _upload_refusal(self) -> str:
        return NO_OPEN_THREAD if self.read_only else AttachmentUploadsState._upload_refusal(self)

    def _new_conversation_args(self, form_data: dict) -> dict:
        return {"patient_id": None}  # always the signed-in patient's own

    # ----- page load -----
    @guarded(PAGE_ROLE)
    def load_help(self, actor: Actor):
        """The help page (pages/portal_help.py): static text for a signed-in patient."""
        return None

    @guarded(PAGE_ROLE)
    async def load(self, actor: Actor):
        await self._begin_load(actor)
        params = self.router.url.query_parameters
        self.upload_error = ""
        if "new" in params:  # never close it here: a click may already have opened it
            self.new_open = True
        self._close_thread()

        def first_view(session) -> None:
            if "c" in params:
                self._open_from_address(session, actor, params.get("c"))
            self._refresh(session, actor)

        await offloop.in_session(first_view)
        await offloop.run_db(self._jump_to, actor, params.get("m"))  # ?c=<id>&m=<seq>
        return None

    @rx.event
    def close_chat(self):
        return rx.redirect("/portal")

    # ----- new conversation -----
    @guarded(PAGE_ROLE)
    def set_new_open(self, actor: Actor, value: bool):
        self.new_open = bool(value)
        self.new_error = ""
        return None
