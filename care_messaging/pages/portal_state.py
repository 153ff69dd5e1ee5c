"""Patient portal state: the patient's conversations, one chat, attachments, new conversation.

The list, the open thread, sending and live updates are shared with the provider dashboard
(``state/thread_page.py``); this module adds who viewed the thread, completed (read-only)
conversations, files waiting to be sent, and the New Conversation dialog. Every public handler
resolves the patient from the server-side session (``_guard``); every id from the browser is
re-checked by a service (forbidden and nonexistent look the same).
"""

from __future__ import annotations

import contextlib
import uuid
from typing import ClassVar

import reflex as rx

from care_messaging import realtime
from care_messaging.components.patient_format import patient_conversation_row, size_label
from care_messaging.components.provider_format import when
from care_messaging.db import session_scope
from care_messaging.models import ConversationStatus
from care_messaging.services import attachments as attachment_service
from care_messaging.services import audit_log
from care_messaging.services import conversations as conv
from care_messaging.services.actors import Actor
from care_messaging.services.errors import ServiceError
from care_messaging.settings import get_settings
from care_messaging.state import figure_cache
from care_messaging.state.auth import AuthState
from care_messaging.state.thread_page import ThreadPageState, parse_id

MAX_PENDING_FILES = 5
COMPLETED_NOTE = ("This conversation has been marked completed by your care team, so it can no "
                  "longer receive replies. Start a new conversation if you need anything else.")


class PortalState(ThreadPageState, AuthState):
    ROLE: ClassVar[str] = "patient"
    PAGE_PATH: ClassVar[str] = "/portal"
    EMPTY_SEND_ERROR: ClassVar[str] = "Write a message or attach a file before sending."

    # Chat
    read_only: bool = False
    viewers: list[dict[str, str]] = rx.field(default_factory=list)
    # Attachments waiting to be sent with the next message
    pending_files: list[dict[str, str]] = rx.field(default_factory=list)
    upload_error: str = ""
    upload_progress: int = 0
    uploading: bool = False
    # New conversation dialog

    # ----- page hooks (backend only) -----
    def _refresh(self, session, actor: Actor, fresh_after: float | None = None) -> None:
        def compute():
            return (conv.list_conversations(session, actor=actor, limit=self.list_limit),
                    conv.unread_total(session, actor=actor))

        key = ("portal", actor.user_id, self.list_limit)
        page, unread = figure_cache.reuse_or_compute(key, compute, fresh_after=fresh_after)
        self._set_changed(conversations=[patient_conversation_row(r) for r in page.rows],
                          total_rows=page.total, list_loaded=True, nav_unread=unread)

    def _close_thread(self) -> None:
        ThreadPageState._close_thread(self)
        self.read_only = False
        self.viewers = []

    def _set_header(self, session, actor: Actor, conversation) -> None:
        self.header = patient_conversation_row(
            conv.get_row(session, actor=actor, conversation_id=conversation.id))
        self.read_only = conversation.status == ConversationStatus.COMPLETED

    def _on_open(self, session, actor: Actor, conversation) -> None:
        self.viewers = [{"name": v.name, "when": when(v.at)} for v in
                        audit_log.conversation_viewers(session, actor=actor,
                                                       conversation_id=conversation.id)]

    def _send_refusal(self) -> str:
        return COMPLETED_NOTE if self.read_only else ""

    def _attachment_ids(self) -> list[int]:
        return [int(f["id"]) for f in self.pending_files]

    def _after_stored(self) -> None:
        self.pending_files = []

    def _new_conversation_args(self, form_data: dict) -> dict:
        return {"patient_id": None}  # always the signed-in patient's own

    # ----- page load -----
    @rx.event
    async def load(self):
        actor, redirect = self._guard(self.ROLE)
        if redirect:
            return redirect
        realtime.register(user_id=actor.user_id, client_token=self.router.session.client_token,
                          state_cls=type(self))
        params = self.router.url.query_parameters
        self.thread_error = self.send_error = self.new_error = self.upload_error = ""
        self.compose_id = uuid.uuid4().hex
        if "new" in params:  # never close it here: a click may already have opened it
            self.new_open = True
        self._close_thread()
        with session_scope() as session:
            if "c" in params:
                self._open_from_address(session, actor, params.get("c"))
            self._refresh(session, actor)
        return None

    @rx.event
    def close_chat(self):
        return rx.redirect("/portal")

    # ----- attachments -----
    @rx.event
    def set_upload_progress(self, progress: dict):
        _actor, redirect = self._guard(self.ROLE)
        if redirect:
            return redirect
        fraction = float(progress.get("progress", 0) or 0) if isinstance(progress, dict) else 0.0
        self.upload_progress = max(0, min(100, int(fraction * 100)))
        self.uploading = self.upload_progress < 100
        return None

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        actor, redirect = self._guard(self.ROLE)
        if redirect:
            return redirect
        self.upload_error = ""
        conversation_id = parse_id(self.open_id)
        if conversation_id is None or self.read_only:
            self.upload_error = "Open a conversation that is still active to attach files."
            self.uploading = False
            return None
        errors = []
        for upload in files:
            if len(self.pending_files) >= MAX_PENDING_FILES:
                errors.append(f"At most {MAX_PENDING_FILES} files per message.")
                break
            # Read at most one byte past the limit: the service refuses it as too large
            # without a huge upload ever being held in memory whole.
            data = await upload.read(get_settings().max_attachment_bytes + 1)
            with session_scope() as session:
                try:
                    stored = attachment_service.store_upload(
                        session, actor=actor, conversation_id=conversation_id,
                        filename=upload.name or upload.filename or "", data=data)
                except ServiceError as error:
                    errors.append(str(error))
                    continue
            self.pending_files = [*self.pending_files, {
                "id": str(stored.id), "name": stored.display_name,
                "size": size_label(stored.size_bytes)}]
        self.upload_error = " ".join(errors)
        self.uploading = False
        self.upload_progress = 0
        return None

    @rx.event
    def remove_pending(self, attachment_id: str):
        actor, redirect = self._guard(self.ROLE)
        if redirect:
            return redirect
        attachment = parse_id(attachment_id)
        if attachment is None:
            return None
        with session_scope() as session, contextlib.suppress(ServiceError):
            attachment_service.discard_upload(session, actor=actor, attachment_id=attachment)
        self.pending_files = [f for f in self.pending_files if f["id"] != str(attachment)]
        return None

    # ----- new conversation -----
    @rx.event
    def set_new_open(self, value: bool):
        _actor, redirect = self._guard(self.ROLE)
        if redirect:
            return redirect
        self.new_open = bool(value)
        self.new_error = ""
        return None
