"""Files waiting to go with the next message, for any thread page (portal and dashboard).

A Reflex state mixin over ``ThreadPageState``'s hooks: ``_attachment_ids`` hands the open
conversation's waiting files to the send, ``_after_stored`` clears them. The checks are the
service's (``attachments.store_upload``: access to the conversation, size, magic bytes, a
name that matches the contents), for patients and providers alike. Each waiting file
remembers its conversation: a provider opens another thread in place, and a file uploaded for
one conversation is never offered with another (the send would refuse it anyway).
"""

from __future__ import annotations

import contextlib

import reflex as rx

from care_messaging.db import session_scope
from care_messaging.presenters.patient import size_label
from care_messaging.services import attachments as attachment_service
from care_messaging.services.actors import Actor
from care_messaging.services.errors import ServiceError
from care_messaging.settings import get_settings
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import PAGE_ROLE, guarded
from care_messaging.state.shared_values import NO_ROWS, no_rows
from care_messaging.state.thread_base import parse_id
from care_messaging.web import offloop
from care_messaging.web.origins import attachment_href

MAX_PENDING_FILES = 5
NO_OPEN_THREAD = "Open a conversation that is still active to attach files."


class AttachmentUploadsState(AuthState, mixin=True):
    # Waiting files of every conversation this tab attached to: id, name, size, conversation.
    pending_files: list[dict[str, str]] = rx.field(default_factory=no_rows)
    upload_error: str = ""
    upload_progress: int = 0
    uploading: bool = False

    def _upload_refusal(self) -> str:
        """Why files cannot be attached to the open thread now ("" when they can)."""
        return "" if parse_id(self.open_id) is not None else NO_OPEN_THREAD

    def _waiting(self) -> list[dict[str, str]]:
        return [f for f in self.pending_files if f.get("conversation_id") == self.open_id]

    def _attachment_ids(self) -> list[int]:
        return [int(f["id"]) for f in self._waiting()]

    def _after_stored(self) -> None:
        sent = self.open_id
        self.pending_files = [f for f in self.pending_files if f.get("conversation_id") != sent]

    @rx.var
    def open_pending_files(self) -> list[dict[str, str]]:
        """The chips to show: the open conversation's waiting files."""
        # Mostly none: then the shared empty list, not an empty one per tab (memory per tab).
        return [f for f in self.pending_files if f.get("conversation_id") == self.open_id] or NO_ROWS

    @guarded(PAGE_ROLE)
    def set_upload_progress(self, actor: Actor, progress: dict):
        fraction = float(progress.get("progress", 0) or 0) if isinstance(progress, dict) else 0.0
        self.upload_progress = max(0, min(100, int(fraction * 100)))
        self.uploading = self.upload_progress < 100
        return None

    @guarded(PAGE_ROLE)
    async def handle_upload(self, actor: Actor, files: list[rx.UploadFile]):
        self.upload_error = ""
        conversation_id = parse_id(self.open_id)
        refusal = self._upload_refusal()
        if conversation_id is None or refusal:
            self.upload_error = refusal or NO_OPEN_THREAD
            self.uploading = False
            return None
        errors = []
        for upload in files:
            if len(self._waiting()) >= MAX_PENDING_FILES:
                errors.append(f"At most {MAX_PENDING_FILES} files per message.")
                break
            # Read at most one byte past the limit: the service refuses it as too large
            # without a huge upload ever being held in memory whole.
            data = await upload.read(get_settings().max_attachment_bytes + 1)
            try:
                # Checking, encrypting and hashing a file of up to 10 MB: in the bounded file
                # pool, on every database (the loop carries every websocket).
                stored = await offloop.run_work(
                    offloop.in_session_now, attachment_service.store_upload, actor=actor,
                    conversation_id=conversation_id,
                    filename=upload.name or upload.filename or "", data=data)
            except ServiceError as error:
                errors.append(str(error))
                continue
            self.pending_files = [*self.pending_files, {
                "id": str(stored.id), "name": stored.display_name,
                "size": size_label(stored.size_bytes), "conversation_id": str(conversation_id),
                # A thumbnail before sending, from the authorized route (the uploader may
                # open their own unsent file).
                "is_image": "1" if stored.content_type.startswith("image/") else "",
                "href": attachment_href(stored.id)}]
        self.upload_error = " ".join(errors)
        self.uploading = False
        self.upload_progress = 0
        return None

    @guarded(PAGE_ROLE)
    def remove_pending(self, actor: Actor, attachment_id: str):
        attachment = parse_id(attachment_id)
        if attachment is None:
            return None
        with session_scope() as session, contextlib.suppress(ServiceError):
            attachment_service.discard_upload(session, actor=actor, attachment_id=attachment)
        self.pending_files = [f for f in self.pending_files if f["id"] != str(attachment)]
        return None
