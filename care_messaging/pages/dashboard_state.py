"""Provider dashboard state: thin handlers over the services.

Every public handler resolves the actor from the server-side session (``_guard``) and every id
from the browser is re-checked by a service, which raises the same NotFoundError for
"forbidden" and "nonexistent". Lists hold one server-side page of small display dicts.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import reflex as rx

from care_messaging import realtime
from care_messaging.components import message_status
from care_messaging.components.patient_format import attachment_rows
from care_messaging.components.provider_format import conversation_row, message_row
from care_messaging.db import session_scope
from care_messaging.services import audit_log
from care_messaging.services import conversations as conv
from care_messaging.services import messages as msg
from care_messaging.services import stats as stats_service
from care_messaging.services.access import (
    INVALID_CONVERSATION,
    access_conversation,
    access_patient,
    participant_user_ids,
)
from care_messaging.services.actors import Actor
from care_messaging.services.errors import NotFoundError, ServiceError
from care_messaging.state import thread_window
from care_messaging.state.auth import AuthState, live_actor

PAGE_SIZE = 30
THREAD_PAGE = 30
MAX_ROWS = 300


def _int(value: object) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


class DashboardState(AuthState):
    # Sidebar
    conversations: list[dict[str, str]] = rx.field(default_factory=list)
    total_rows: int = 0
    list_limit: int = PAGE_SIZE
    filter_by: str = "all"
    search: str = ""
    nav_unread: int = 0
    # Statistics
    stat_total: int = 0
    stat_unread: int = 0
    stat_patients: int = 0
    stat_messages: int = 0
    chart_data: list[dict[str, str | int]] = rx.field(default_factory=list)
    median_reply: str = "—"
    # Thread
    open_id: str = ""
    thread_error: str = ""
    header: dict[str, str] = rx.field(default_factory=dict)
    thread_status: str = ""
    thread_priority: str = ""
    messages: list[dict[str, str]] = rx.field(default_factory=list)
    thread_attachments: list[dict[str, str]] = rx.field(default_factory=list)
    has_older: bool = False
    send_error: str = ""
    compose_id: str = ""
    typing_label: str = ""
    _last_typing_sent: float = 0.0
    _oldest_seq: int = 0
    _newest_seq: int = 0
    # New Message dialog
    new_open: bool = False
    patient_query: str = ""
    patient_options: list[dict[str, str]] = rx.field(default_factory=list)
    new_patient_id: str = ""
    new_error: str = ""

    @rx.var
    def has_more(self) -> bool:
        return len(self.conversations) < self.total_rows

    # ----- helpers (backend only) -----
    def _refresh(self, session, actor: Actor) -> None:
        """Reload the list page and the counters (the chart and median load with the page:
        they do not need to move with every message)."""
        page = conv.list_conversations(session, actor=actor, filter_by=self.filter_by,
                                       search=self.search, limit=self.list_limit)
        self.conversations = [conversation_row(r) for r in page.rows]
        self.total_rows = page.total
        counts = stats_service.dashboard_counts(session, actor=actor)
        self.stat_total = counts.total_conversations
        self.stat_unread = counts.unread_messages
        self.stat_patients = counts.unique_patients
        self.stat_messages = counts.total_messages
        self.nav_unread = counts.unread_messages

    def _load_analytics(self, session, actor: Actor) -> None:
        per_day = stats_service.messages_per_day(session, actor=actor)
        self.chart_data = [{"day": d.day.strftime("%b %d"), "messages": d.messages}
                           for d in per_day]
        self.median_reply = stats_service.format_duration(
            stats_service.median_first_reply_seconds(session, actor=actor))

    def _close_thread(self) -> None:
        self.open_id = ""
        self.header = {}
        self.messages = []
        self.thread_attachments = []
        self.has_older = False
        self._oldest_seq = self._newest_seq = 0

    def _set_header(self, session, actor: Actor, conversation_id: int) -> None:
        row = conv.get_row(session, actor=actor, conversation_id=conversation_id)
        self.header = conversation_row(row)
        conversation = access_conversation(session, actor=actor, conversation_id=conversation_id)
        self.thread_status = conversation.status
        self.thread_priority = conversation.priority

    def _apply_receipts(self, session, actor: Actor, conversation) -> None:
        receipt = msg.receipt_for(session, actor=actor, conversation=conversation)
        self.messages = message_status.apply_statuses(self.get_value("messages"), receipt)

    def _open(self, session, actor: Actor, conversation_id: int) -> bool:
        """Show a conversation and mark it read; True when that read something new."""
        conversation = access_conversation(session, actor=actor, conversation_id=conversation_id)
        audit_log.record_conversation_open(session, actor=actor, conversation=conversation)
        newly_read = msg.mark_read(session, actor=actor, conversation=conversation)
        views = msg.list_messages(session, conversation_id=conversation.id or 0, limit=THREAD_PAGE)
        self.open_id = str(conversation.id)
        self.typing_label = ""
        self.messages = [message_row(v, actor) for v in views]
        self.thread_attachments = attachment_rows(views)
        self._apply_receipts(session, actor, conversation)
        self._oldest_seq = views[0].seq if views else 0
        self._newest_seq = views[-1].seq if views else 0
        self.has_older = self._oldest_seq > 1
        self._set_header(session, actor, conversation.id or 0)
        return newly_read

    def _load_patient_options(self, session, actor: Actor, preselect: int | None = None) -> None:
        options = stats_service.my_patients(session, actor=actor, search=self.patient_query)
        rows = [{"id": str(o.id), "label": f"{o.name} ({o.mrn})"} for o in options]
        if preselect is not None:
            patient = access_patient(session, actor=actor, patient_id=preselect)
            chosen = {"id": str(patient.id), "label": f"{patient.full_name} ({patient.mrn})"}
            rows = [chosen] + [r for r in rows if r["id"] != chosen["id"]]
            self.new_patient_id = chosen["id"]
        elif self.new_patient_id not in {r["id"] for r in rows}:
            self.new_patient_id = rows[0]["id"] if rows else ""
        self.patient_options = rows

    # ----- page load -----
    @rx.event
    async def load(self):
        actor, redirect = self._guard("provider")
        if redirect:
            yield redirect
            return
        realtime.register(user_id=actor.user_id, client_token=self.router.session.client_token,
                          state_cls=type(self))
        params = self.router.url.query_parameters
        self.thread_error = self.send_error = self.new_error = ""
        self.compose_id = uuid.uuid4().hex
        self._close_thread()
        read_receipt = None
        with session_scope() as session:
            if "c" in params:
                conversation_id = _int(params.get("c"))
                try:
                    if conversation_id is None:
                        raise NotFoundError(INVALID_CONVERSATION)
                    if self._open(session, actor, conversation_id):
                        read_receipt = (conversation_id, int(self.header.get("patient_id", "0")),
                                        participant_user_ids(session, int(self.header.get(
                                            "patient_id", "0"))))
                except ServiceError as error:
                    self.thread_error = str(error)
            if "new" in params:
                self.patient_query = ""
                try:
                    self._load_patient_options(session, actor, preselect=_int(params.get("new")))
                    self.new_open = True
                except ServiceError as error:
                    self.thread_error = str(error)
            self._refresh(session, actor)
        yield  # the list, counters and thread reach the browser before the chart is computed
        if read_receipt is not None:
            conversation_id, patient_id, users = read_receipt
            # The senders' screens turn "Delivered" into "Read <time>".
            await realtime.publish(
                realtime.LiveEvent(kind="receipt", conversation_id=conversation_id,
                                   patient_id=patient_id, actor_user_id=actor.user_id),
                user_ids=users, exclude_token=self.router.session.client_token,
            )
        with session_scope() as session:
            self._load_analytics(session, actor)

    @rx.event
    async def open_conversation(self, conversation_id: int):
        """Open a thread in place (no navigation); the id is re-checked like any other."""
        actor, redirect = self._guard("provider")
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
            patient_id = int(self.header.get('patient_id', '0'))
            users = participant_user_ids(session, patient_id) if newly_read else []
        if newly_read:
            await realtime.publish(
                realtime.LiveEvent(kind="receipt", conversation_id=requested,
                                   patient_id=patient_id, actor_user_id=actor.user_id),
                user_ids=users, exclude_token=self.router.session.client_token,
            )
        return None

    # ----- sidebar -----
    @rx.event
    def set_filter(self, value: str):
        actor, redirect = self._guard("provider")
        if redirect:
            return redirect
        self.filter_by = value if value in conv.FILTERS else "all"
        self.list_limit = PAGE_SIZE
        with session_scope() as session:
            self._refresh(session, actor)

    @rx.event
    def set_search(self, value: str):
        actor, redirect = self._guard("provider")
        if redirect:
            return redirect
        self.search = str(value)[:100]
        self.list_limit = PAGE_SIZE
        with session_scope() as session:
            self._refresh(session, actor)

    @rx.event
    def load_more(self):
        actor, redirect = self._guard("provider")
        if redirect:
            return redirect
        self.list_limit = min(self.list_limit + PAGE_SIZE, MAX_ROWS)
        with session_scope() as session:
            self._refresh(session, actor)

    # ----- thread -----
    @rx.event
    def load_older(self):
        actor, redirect = self._guard("provider")
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
            self.messages = [message_row(v, actor) for v in views] + self.messages
            self.thread_attachments = attachment_rows(views) + self.thread_attachments
            self._oldest_seq = views[0].seq
        self.has_older = self._oldest_seq > 1
        return None

    def _append_new(self, session, actor: Actor, conversation_id: int) -> None:
        views = msg.list_messages(session, conversation_id=conversation_id,
                                  after_seq=self._newest_seq, limit=200)
        if views:
            rows, attachments, oldest = thread_window.append(
                self.get_value("messages"), self.get_value("thread_attachments"),
                [message_row(v, actor) for v in views], attachment_rows(views))
            self.messages, self.thread_attachments = rows, attachments
            self._newest_seq = views[-1].seq
            if oldest is not None:
                self._oldest_seq, self.has_older = oldest, True

    @rx.event
    async def send_reply(self, form_data: dict):
        """Show the message at once as "Sending…", then store it exactly once.

        The client message id comes from the form (a hidden field holding ``compose_id``), so a
        double click or a resend after a reconnect carries the same id and stores one message.
        """
        actor, redirect = self._guard("provider")
        if redirect:
            yield redirect
            return
        conversation_id = _int(self.open_id)
        if conversation_id is None:
            return
        body = str(form_data.get("body", ""))[: msg.MAX_BODY_CHARS + 1]
        client_id = str(form_data.get("client_msg_id", "") or self.compose_id)[:64]
        already_shown = any(m.get("client_id") == client_id
                            for m in self.get_value("messages"))
        if not body.strip():
            if not already_shown:  # a second click on an already-sent form is not an error
                self.send_error = "Write a message before sending."
            return
        self.send_error = ""
        if not already_shown:
            self.messages = [*self.messages, message_status.pending_row(client_id=client_id,
                                                                        body=body)]
        self.compose_id = uuid.uuid4().hex
        yield  # the "Sending…" bubble reaches the browser now
        async for event in self._store(actor, conversation_id, body, client_id):
            yield event

    @rx.event
    async def retry_send(self, client_id: str):
        """Send a failed message again with the same client id (it can only be stored once)."""
        actor, redirect = self._guard("provider")
        if redirect:
            yield redirect
            return
        conversation_id = _int(self.open_id)
        row = next((m for m in self.messages if m.get("client_id") == str(client_id)
                    and m.get("failed") == "1"), None)
        if conversation_id is None or row is None:
            return
        self.messages = [
            {**m, "status": message_status.SENDING, "failed": ""} if m is row else m
            for m in self.messages
        ]
        yield
        async for event in self._store(actor, conversation_id, row["body"], row["client_id"]):
            yield event

    async def _store(self, actor: Actor, conversation_id: int, body: str, client_id: str):
        try:
            with session_scope() as session:
                result = msg.send_message(session, actor=actor, conversation_id=conversation_id,
                                          body=body, client_msg_id=client_id)
        except NotFoundError as error:
            # Gone or never visible: nothing to retry, so no "failed" bubble either.
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
        realtime.stop_typing(conversation_id=conversation_id, actor_user_id=actor.user_id)
        # Tell the others first: their screens should not wait for ours to refresh.
        await realtime.publish(
            realtime.LiveEvent(kind="message", conversation_id=conversation_id,
                               patient_id=int(self.header.get("patient_id", "0")),
                               actor_user_id=actor.user_id, seq=result.message.seq),
            user_ids=result.participant_user_ids,
            exclude_token=self.router.session.client_token,
        )
        await asyncio.sleep(0)  # the receivers' deliveries (tasks) start before our refresh
        with session_scope() as session:
            # The stored message replaces its "Sending…" bubble (a repeat send of an
            # already-stored id has no bubble; _append_new never adds a seq twice).
            self.messages = [m for m in self.get_value("messages")
                             if not (m.get("client_id") == client_id and not m.get("seq"))]
            self._append_new(session, actor, conversation_id)
        yield
        # Then header, receipts, list and counters, as for any live event on this tab.
        await realtime.follow_up_own_send(self, realtime.LiveEvent(
            kind="message", conversation_id=conversation_id, actor_user_id=actor.user_id,
            seq=result.message.seq))

    def _mark_failed(self, client_id: str, reason: str) -> None:
        self.messages = [
            message_status.failed_row(m, reason) if m.get("client_id") == client_id else m
            for m in self.messages
        ]

    @rx.event
    async def typing(self, _value: str = ""):
        """The reply box changed: tell the others, at most every 2 seconds."""
        actor, redirect = self._guard("provider")
        if redirect:
            return redirect
        conversation_id = _int(self.open_id)
        now = time.monotonic()
        if conversation_id is None or now - self._last_typing_sent < 2.0:
            return None
        self._last_typing_sent = now
        with session_scope() as session:
            try:
                conversation = access_conversation(session, actor=actor,
                                                   conversation_id=conversation_id)
            except ServiceError:
                return None
            users = participant_user_ids(session, conversation.patient_id)
        await realtime.publish_typing(
            conversation_id=conversation_id, patient_id=conversation.patient_id,
            actor_user_id=actor.user_id, label=actor.display_name, user_ids=users,
            exclude_token=self.router.session.client_token,
        )
        return None

    async def _change(self, field: str, value: str):
        actor, redirect = self._guard("provider")
        if redirect:
            return redirect
        conversation_id = _int(self.open_id)
        if conversation_id is None:
            return None
        self.send_error = ""
        setter = conv.set_status if field == "status" else conv.set_priority
        with session_scope() as session:
            try:
                conversation = setter(session, actor=actor, conversation_id=conversation_id,
                                      **{field: str(value)})
            except ServiceError as error:
                self.send_error = str(error)
                return None
            self._set_header(session, actor, conversation_id)
            self._refresh(session, actor)
            users = participant_user_ids(session, conversation.patient_id)
        await realtime.publish(
            realtime.LiveEvent(kind="conversation", conversation_id=conversation_id,
                               patient_id=conversation.patient_id, actor_user_id=actor.user_id),
            user_ids=users, exclude_token=self.router.session.client_token,
        )
        return None

    @rx.event
    async def set_status(self, value: str):
        return await self._change("status", value)

    @rx.event
    async def set_priority(self, value: str):
        return await self._change("priority", value)

    # ----- New Message dialog -----
    @rx.event
    def set_new_open(self, value: bool):
        actor, redirect = self._guard("provider")
        if redirect:
            return redirect
        self.new_open = bool(value)
        self.new_error = ""
        if self.new_open:
            self.patient_query = ""
            with session_scope() as session:
                self._load_patient_options(session, actor)
        return None

    @rx.event
    def search_patients(self, value: str):
        actor, redirect = self._guard("provider")
        if redirect:
            return redirect
        self.patient_query = str(value)[:100]
        with session_scope() as session:
            self._load_patient_options(session, actor)
        return None

    @rx.event
    def set_new_patient(self, value: str):
        _actor, redirect = self._guard("provider")
        if redirect:
            return redirect
        self.new_patient_id = str(value)[:12]  # only a choice; create_conversation checks access
        return None

    @rx.event
    async def create(self, form_data: dict):
        actor, redirect = self._guard("provider")
        if redirect:
            return redirect
        self.new_error = ""
        with session_scope() as session:
            try:
                conversation, result = conv.create_conversation(
                    session, actor=actor, patient_id=_int(form_data.get("patient_id", "")),
                    topic=str(form_data.get("topic", "")), body=str(form_data.get("body", "")),
                    category=str(form_data.get("category", "check_in")),
                    priority=str(form_data.get("priority", "routine")),
                    client_msg_id=str(form_data.get("client_msg_id", "")) or uuid.uuid4().hex,
                )
            except ServiceError as error:
                session.rollback()
                self.new_error = str(error)
                return None
            conversation_id, patient_id = conversation.id, conversation.patient_id
        self.new_open = False
        await realtime.publish(
            realtime.LiveEvent(kind="conversation", conversation_id=conversation_id or 0,
                               patient_id=patient_id, actor_user_id=actor.user_id),
            user_ids=result.participant_user_ids,
            exclude_token=self.router.session.client_token,
        )
        return rx.redirect(f"/dashboard?c={conversation_id}")

    # ----- live updates (called by realtime via app.modify_state) -----
    async def _apply_live_event(self, event) -> bool:
        """Phase one, on the delivery path: a new message in the open thread shows at once.

        Returns True when the follow-up (``_after_live_events``) must run: everything else,
        including marking read and the list and counters, which coalesces over a burst.
        """
        actor = live_actor(self)
        if actor is None or not actor.is_provider:
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
            if event.actor_user_id != actor.user_id:
                self.typing_label = ""
        return True

    async def _after_live_events(self, events: list) -> None:
        """Phase two: read marks, header, receipts, list and counters, once per burst."""
        actor = live_actor(self)
        if actor is None or not actor.is_provider:
            return
        open_id = _int(self.open_id)
        touched = {e.conversation_id for e in events}
        kinds = {e.kind for e in events}
        receipt_for_users: list[int] = []
        with session_scope() as session:
            if open_id is not None and open_id in touched:
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
                    self._set_header(session, actor, open_id)
                    self._apply_receipts(session, actor, conversation)
                except ServiceError:
                    self._close_thread()
            if kinds - {"receipt"}:
                self._refresh(session, actor)
        if receipt_for_users:
            await realtime.publish(
                realtime.LiveEvent(kind="receipt", conversation_id=open_id or 0,
                                   patient_id=int(self.header.get("patient_id", "0")),
                                   actor_user_id=actor.user_id),
                user_ids=receipt_for_users,
            )
