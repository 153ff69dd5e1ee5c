"""Patient portal state: the patient's conversations, one chat, attachments, new conversation.

Every public handler resolves the patient from the server-side session (``_guard``); every
id from the browser is re-checked by a service (forbidden and nonexistent look the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import reflex as rx

from care_messaging import realtime
from care_messaging.components import message_status
from care_messaging.components.patient_format import (
    attachment_rows,
    patient_conversation_row,
    patient_message_row,
    size_label,
)
from care_messaging.components.provider_format import when
from care_messaging.db import session_scope
from care_messaging.models import ConversationStatus
from care_messaging.services import attachments as attachment_service
from care_messaging.services import audit_log
from care_messaging.services import conversations as conv
from care_messaging.services import messages as msg
from care_messaging.services.access import (
    INVALID_CONVERSATION,
    access_conversation,
    participant_user_ids,
)
from care_messaging.services.actors import Actor
from care_messaging.services.errors import NotFoundError, ServiceError
from care_messaging.settings import get_settings
from care_messaging.state import thread_window
from care_messaging.state.auth import AuthState, live_actor

PAGE_SIZE = 30
THREAD_PAGE = 30
MAX_PENDING_FILES = 5
COMPLETED_NOTE = ("This conversation has been marked completed by your care team, so it can no "
                  "longer receive replies. Start a new conversation if you need anything else.")


def _int(value: object) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


class PortalState(AuthState):
    # List
    conversations: list[dict[str, str]] = rx.field(default_factory=list)
    total_rows: int = 0
    list_limit: int = PAGE_SIZE
    nav_unread: int = 0
    # Chat
    open_id: str = ""
    thread_error: str = ""
    header: dict[str, str] = rx.field(default_factory=dict)
    read_only: bool = False
    messages: list[dict[str, str]] = rx.field(default_factory=list)
    thread_attachments: list[dict[str, str]] = rx.field(default_factory=list)
    has_older: bool = False
    send_error: str = ""
    compose_id: str = ""
    typing_label: str = ""
    viewers: list[dict[str, str]] = rx.field(default_factory=list)
    _oldest_seq: int = 0
    _newest_seq: int = 0
    _last_typing_sent: float = 0.0
    # Attachments waiting to be sent with the next message
    pending_files: list[dict[str, str]] = rx.field(default_factory=list)
    upload_error: str = ""
    upload_progress: int = 0
    uploading: bool = False
    # New conversation dialog
    new_open: bool = False
    new_error: str = ""

    @rx.var
    def has_more(self) -> bool:
        return len(self.conversations) < self.total_rows

    # ----- helpers (backend only) -----
    def _refresh(self, session, actor: Actor) -> None:
        page = conv.list_conversations(session, actor=actor, limit=self.list_limit)
        self.conversations = [patient_conversation_row(r) for r in page.rows]
        self.total_rows = page.total
        self.nav_unread = conv.unread_total(session, actor=actor)

    def _close_thread(self) -> None:
        self.open_id = ""
        self.header = {}
        self.messages = []
        self.thread_attachments = []
        self.has_older = False
        self.read_only = False
        self.typing_label = ""
        self.viewers = []
        self._oldest_seq = self._newest_seq = 0

    def _apply_receipts(self, session, actor: Actor, conversation) -> None:
        receipt = msg.receipt_for(session, actor=actor, conversation=conversation)
        self.messages = message_status.apply_statuses(self.get_value("messages"), receipt)

    def _set_header(self, session, actor: Actor, conversation) -> None:
        self.header = patient_conversation_row(
            conv.get_row(session, actor=actor, conversation_id=conversation.id))
        self.read_only = conversation.status == ConversationStatus.COMPLETED

    def _open(self, session, actor: Actor, conversation_id: int) -> bool:
        conversation = access_conversation(session, actor=actor, conversation_id=conversation_id)
        audit_log.record_conversation_open(session, actor=actor, conversation=conversation)
        newly_read = msg.mark_read(session, actor=actor, conversation=conversation)
        views = msg.list_messages(session, conversation_id=conversation_id, limit=THREAD_PAGE)
        self.open_id = str(conversation_id)
        self.messages = [patient_message_row(v, actor) for v in views]
        self.thread_attachments = attachment_rows(views)
        self._oldest_seq = views[0].seq if views else 0
        self._newest_seq = views[-1].seq if views else 0
        self.has_older = self._oldest_seq > 1
        self._set_header(session, actor, conversation)
        self._apply_receipts(session, actor, conversation)
        self.viewers = [{"name": v.name, "when": when(v.at)} for v in
                        audit_log.conversation_viewers(session, actor=actor,
                                                       conversation_id=conversation_id)]
        return newly_read

    def _append_new(self, session, actor: Actor, conversation_id: int) -> None:
        views = msg.list_messages(session, conversation_id=conversation_id,
                                  after_seq=self._newest_seq, limit=200)
        if views:
            rows, attachments, oldest = thread_window.append(
                self.get_value("messages"), self.get_value("thread_attachments"),
                [patient_message_row(v, actor) for v in views], attachment_rows(views))
            self.messages, self.thread_attachments = rows, attachments
            self._newest_seq = views[-1].seq
            if oldest is not None:
                self._oldest_seq, self.has_older = oldest, True

    async def _publish(self, actor: Actor, kind: str, conversation_id: int, patient_id: int,
                       users, seq: int = 0) -> None:
        await realtime.publish(
            realtime.LiveEvent(kind=kind, conversation_id=conversation_id, patient_id=patient_id,
                               actor_user_id=actor.user_id, seq=seq),
            user_ids=users, exclude_token=self.router.session.client_token,
        )

    # ----- page load -----
    @rx.event
    async def load(self):
        actor, redirect = self._guard("patient")
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
        events = []
        newly_read = False
        with session_scope() as session:
            if "c" in params:
                conversation_id = _int(params.get("c"))
                try:
                    if conversation_id is None:
                        raise NotFoundError(INVALID_CONVERSATION)
                    newly_read = self._open(session, actor, conversation_id)
                except ServiceError as error:
                    self.thread_error = str(error)
            self._refresh(session, actor)
            users = participant_user_ids(session, actor.patient_id or 0) if newly_read else []
        if newly_read:
            # The care team's screens turn "Delivered" into "Read <time>".
            await self._publish(actor, "receipt", int(self.open_id), actor.patient_id or 0, users)
        return events

    @rx.event
    async def open_conversation(self, conversation_id: int):
        """Open a thread in place (no navigation); the id is re-checked like any other."""
        actor, redirect = self._guard("patient")
        if redirect:
            return redirect
        self.thread_error = self.send_error = ""
        newly_read = False
        with session_scope() as session:
            try:
                requested = _int(conversation_id)
                if requested is None:
                    raise NotFoundError(INVALID_CONVERSATION)
                newly_read = self._open(session, actor, requested)
            except ServiceError as error:
                self._close_thread()
                self.thread_error = str(error)
                return None
            self._refresh(session, actor)
            patient_id = actor.patient_id or 0
            users = participant_user_ids(session, patient_id) if newly_read else []
        if newly_read:
            await realtime.publish(
                realtime.LiveEvent(kind="receipt", conversation_id=requested,
                                   patient_id=patient_id, actor_user_id=actor.user_id),
                user_ids=users, exclude_token=self.router.session.client_token,
            )
        return None

    @rx.event
    def load_more(self):
        actor, redirect = self._guard("patient")
        if redirect:
            return redirect
        self.list_limit = min(self.list_limit + PAGE_SIZE, 300)
        with session_scope() as session:
            self._refresh(session, actor)
        return None

    @rx.event
    def close_chat(self):
        return rx.redirect("/portal")

    @rx.event
    def load_older(self):
        actor, redirect = self._guard("patient")
        if redirect:
            return redirect
        conversation_id = _int(self.open_id)
        if conversation_id is None or self._oldest_seq <= 1:
            return None
        with session_scope() as session:
            try:
                access_conversation(session, actor=actor, conversation_id=conversation_id)
            except ServiceError as error:
                self.thread_error = str(error)
                self._close_thread()
                return None
            views = msg.list_messages(session, conversation_id=conversation_id,
                                      before_seq=self._oldest_seq, limit=THREAD_PAGE)
        if views:
            self.messages = [patient_message_row(v, actor) for v in views] + self.messages
            self.thread_attachments = attachment_rows(views) + self.thread_attachments
            self._oldest_seq = views[0].seq
        self.has_older = self._oldest_seq > 1
        return None

    # ----- sending -----
    @rx.event
    async def send_reply(self, form_data: dict):
        """Show the message at once as "Sending…", then store it exactly once (client id)."""
        actor, redirect = self._guard("patient")
        if redirect:
            yield redirect
            return
        conversation_id = _int(self.open_id)
        if conversation_id is None:
            return
        body = str(form_data.get("body", ""))[: msg.MAX_BODY_CHARS + 1]
        client_id = str(form_data.get("client_msg_id", "") or self.compose_id)[:64]
        attachment_ids = [int(f["id"]) for f in self.pending_files]
        already_shown = any(m.get("client_id") == client_id
                            for m in self.get_value("messages"))
        if not body.strip() and not attachment_ids:
            if not already_shown:
                self.send_error = "Write a message or attach a file before sending."
            return
        if self.read_only:
            self.send_error = COMPLETED_NOTE
            return
        self.send_error = ""
        if not already_shown:
            self.messages = [*self.messages,
                             message_status.pending_row(client_id=client_id, body=body)]
        self.compose_id = uuid.uuid4().hex
        yield
        async for event in self._store(actor, conversation_id, body, client_id, attachment_ids):
            yield event

    @rx.event
    async def retry_send(self, client_id: str):
        actor, redirect = self._guard("patient")
        if redirect:
            yield redirect
            return
        conversation_id = _int(self.open_id)
        row = next((m for m in self.messages if m.get("client_id") == str(client_id)
                    and m.get("failed") == "1"), None)
        if conversation_id is None or row is None:
            return
        self.messages = [{**m, "status": message_status.SENDING, "failed": ""} if m is row else m
                         for m in self.messages]
        yield
        attachment_ids = [int(f["id"]) for f in self.pending_files]
        async for event in self._store(actor, conversation_id, row["body"], row["client_id"],
                                       attachment_ids):
            yield event

    async def _store(self, actor: Actor, conversation_id: int, body: str, client_id: str,
                     attachment_ids: list[int]):
        try:
            with session_scope() as session:
                result = msg.send_message(session, actor=actor, conversation_id=conversation_id,
                                          body=body, client_msg_id=client_id,
                                          attachment_ids=attachment_ids)
        except NotFoundError as error:
            self.messages = [m for m in self.messages
                             if not (m.get("client_id") == client_id and not m.get("seq"))]
            self.send_error = str(error)
            return
        except ServiceError as error:
            self._mark_failed(client_id, str(error))
            return
        except Exception:  # database unavailable etc.: keep the text, offer a retry
            self._mark_failed(client_id, "the server could not store it. Try again.")
            return
        self.pending_files = []
        realtime.stop_typing(conversation_id=conversation_id, actor_user_id=actor.user_id)
        # Tell the care team first: their screens should not wait for ours to refresh.
        await self._publish(actor, "message", conversation_id, actor.patient_id or 0,
                            result.participant_user_ids, seq=result.message.seq)
        await asyncio.sleep(0)  # the care team's deliveries (tasks) start before our refresh
        with session_scope() as session:
            self.messages = [m for m in self.get_value("messages")
                             if not (m.get("client_id") == client_id and not m.get("seq"))]
            self._append_new(session, actor, conversation_id)
        yield
        # Then receipts and the list, as for any live event on this tab.
        await realtime.follow_up_own_send(self, realtime.LiveEvent(
            kind="message", conversation_id=conversation_id, actor_user_id=actor.user_id,
            seq=result.message.seq))

    def _mark_failed(self, client_id: str, reason: str) -> None:
        self.messages = [message_status.failed_row(m, reason) if m.get("client_id") == client_id
                         else m for m in self.messages]

    @rx.event
    async def typing(self, _value: str = ""):
        actor, redirect = self._guard("patient")
        if redirect:
            return redirect
        conversation_id = _int(self.open_id)
        now = time.monotonic()
        if conversation_id is None or self.read_only or now - self._last_typing_sent < 2.0:
            return None
        self._last_typing_sent = now
        with session_scope() as session:
            try:
                access_conversation(session, actor=actor, conversation_id=conversation_id)
            except ServiceError:
                return None
            users = participant_user_ids(session, actor.patient_id or 0)
        await realtime.publish_typing(
            conversation_id=conversation_id, patient_id=actor.patient_id or 0,
            actor_user_id=actor.user_id, label=actor.display_name, user_ids=users,
            exclude_token=self.router.session.client_token,
        )
        return None

    # ----- attachments -----
    @rx.event
    def set_upload_progress(self, progress: dict):
        _actor, redirect = self._guard("patient")
        if redirect:
            return redirect
        fraction = float(progress.get("progress", 0) or 0) if isinstance(progress, dict) else 0.0
        self.upload_progress = max(0, min(100, int(fraction * 100)))
        self.uploading = self.upload_progress < 100
        return None

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        actor, redirect = self._guard("patient")
        if redirect:
            return redirect
        self.upload_error = ""
        conversation_id = _int(self.open_id)
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
        actor, redirect = self._guard("patient")
        if redirect:
            return redirect
        attachment = _int(attachment_id)
        if attachment is None:
            return None
        with session_scope() as session, contextlib.suppress(ServiceError):
            attachment_service.discard_upload(session, actor=actor, attachment_id=attachment)
        self.pending_files = [f for f in self.pending_files if f["id"] != str(attachment)]
        return None

    # ----- new conversation -----
    @rx.event
    def set_new_open(self, value: bool):
        _actor, redirect = self._guard("patient")
        if redirect:
            return redirect
        self.new_open = bool(value)
        self.new_error = ""
        return None

    @rx.event
    async def create(self, form_data: dict):
        actor, redirect = self._guard("patient")
        if redirect:
            return redirect
        self.new_error = ""
        with session_scope() as session:
            try:
                conversation, result = conv.create_conversation(
                    session, actor=actor, patient_id=None,
                    topic=str(form_data.get("topic", "")), body=str(form_data.get("body", "")),
                    category=str(form_data.get("category", "check_in")),
                    client_msg_id=str(form_data.get("client_msg_id", "")) or uuid.uuid4().hex,
                )
            except ServiceError as error:
                session.rollback()
                self.new_error = str(error)
                return None
            conversation_id = conversation.id or 0
        self.new_open = False
        await self._publish(actor, "conversation", conversation_id, actor.patient_id or 0,
                            result.participant_user_ids, seq=result.message.seq)
        return rx.redirect(f"/portal?c={conversation_id}")

    # ----- live updates (called by realtime via app.modify_state) -----
    async def _apply_live_event(self, event) -> bool:
        """Phase one, on the delivery path: a new message in the open thread shows at once;
        True when the coalesced follow-up (``_after_live_events``) must run."""
        actor = live_actor(self)
        if actor is None or not actor.is_patient:
            return False
        open_id = _int(self.open_id)
        is_open = open_id is not None and event.conversation_id == open_id
        if event.kind == "typing":
            if is_open and event.actor_user_id != actor.user_id:
                self.typing_label = f"{event.label} is typing…" if event.label else ""
            return False
        if event.kind == "receipt" and not is_open:
            return False
        if is_open and event.kind == "message":
            with session_scope() as session:
                try:
                    access_conversation(session, actor=actor, conversation_id=open_id)
                except ServiceError:
                    self._close_thread()
                    return True
                self._append_new(session, actor, open_id)
            self.typing_label = ""
        return True

    async def _after_live_events(self, events: list) -> None:
        """Phase two: read marks, header, receipts and the list, once per burst."""
        actor = live_actor(self)
        if actor is None or not actor.is_patient:
            return
        open_id = _int(self.open_id)
        kinds = {e.kind for e in events}
        receipt_for_users: list[int] = []
        with session_scope() as session:
            if open_id is not None and open_id in {e.conversation_id for e in events}:
                try:
                    conversation = access_conversation(session, actor=actor,
                                                       conversation_id=open_id)
                    if "message" in kinds:
                        self._append_new(session, actor, open_id)
                        if msg.mark_read(session, actor=actor, conversation=conversation):
                            receipt_for_users = sorted({
                                e.actor_user_id for e in events
                                if e.kind == "message" and e.conversation_id == open_id
                                and e.actor_user_id != actor.user_id})
                    self._set_header(session, actor, conversation)
                    self._apply_receipts(session, actor, conversation)
                except ServiceError:
                    self._close_thread()
            if kinds - {"receipt"}:
                self._refresh(session, actor)
        if receipt_for_users:
            await realtime.publish(
                realtime.LiveEvent(kind="receipt", conversation_id=open_id or 0,
                                   patient_id=actor.patient_id or 0,
                                   actor_user_id=actor.user_id),
                user_ids=receipt_for_users,
            )
