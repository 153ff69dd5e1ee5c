"""What the provider dashboard and the patient portal share: a conversation list and one open
thread with sending, receipts, typing and live updates.

A Reflex state mixin: each page state (``DashboardState``, ``PortalState``) gets its own copy
of these vars and handlers. The page supplies the role, its list refresh, its thread header
and a few hooks (attachments, read-only threads); everything that touches a conversation or
message re-checks access on the server through the services, and the session through
``@guarded`` (handlers: state/guarded.py) or ``live_actor`` (live pushes).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import ClassVar

import reflex as rx

from care_messaging import realtime
from care_messaging.crypto import outbox_owner
from care_messaging.db import session_scope
from care_messaging.presenters import message_status
from care_messaging.presenters.patient import attachment_rows
from care_messaging.presenters.provider import message_row
from care_messaging.services import audit_log, message_sending, message_views, receipts
from care_messaging.services import conversations as conv
from care_messaging.services.access import (
    INVALID_CONVERSATION,
    access_conversation,
    participant_user_ids,
)
from care_messaging.services.actors import Actor
from care_messaging.services.errors import NotFoundError, ServiceError
from care_messaging.state import outbox, thread_window
from care_messaging.state.auth import AuthState, live_actor, resolve_actor
from care_messaging.state.guarded import PAGE_ROLE, guarded
from care_messaging.web import offloop

PAGE_SIZE = 30
MAX_LIST_ROWS = 300
THREAD_PAGE = 30
TYPING_EVERY_SECONDS = 2.0


def parse_id(value: object) -> int | None:
    """A database id from the browser, or None for anything that is not one."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


def header_key(conversation) -> tuple:
    """The conversation fields a thread header shows (the patient's name and ID do not change
    with a message): a burst of messages rebuilds the header only when one of them moved (a
    provider's reply reopens a completed conversation or becomes its assigned provider, or
    someone takes it on: ``assignee_user_id``)."""
    return (conversation.topic, conversation.status, conversation.priority,
            conversation.category, conversation.provider_user_id,
            conversation.assignee_user_id)


class ThreadPageState(AuthState, mixin=True):
    ROLE: ClassVar[str] = ""
    PAGE_PATH: ClassVar[str] = ""
    EMPTY_SEND_ERROR: ClassVar[str] = "Write a message before sending."

    # List
    conversations: list[dict[str, str]] = rx.field(default_factory=list)
    total_rows: int = 0
    # False until the first list has been loaded for this tab: the page shows "Loading" (or
    # the rows served with the page), not "No conversations", while it boots.
    list_loaded: bool = False
    list_limit: int = PAGE_SIZE
    nav_unread: int = 0
    # Open thread: settled rows and the tail of new ones (see state/thread_window.py)
    open_id: str = ""
    thread_error: str = ""
    header: dict[str, str] = rx.field(default_factory=dict)
    messages: list[dict[str, str]] = rx.field(default_factory=list)
    recent: list[dict[str, str]] = rx.field(default_factory=list)
    thread_attachments: list[dict[str, str]] = rx.field(default_factory=list)
    has_older: bool = False
    # True while an older page is on its way (the button shows it, the log is aria-busy).
    loading_older: bool = False
    send_error: str = ""
    # What became of this tab's latest sends (state/outbox.py), for the browser's outbox.
    outbox_acks: str = "[]"
    # Which signed-in user this tab's outbox belongs to (a keyed hash, not the user id).
    outbox_owner: str = ""
    typing_label: str = ""
    _oldest_seq: int = 0
    _newest_seq: int = 0
    _last_typing_sent: float = 0.0
    # What the open thread's header was built from (see _show_header).
    _header_key: tuple = ()
    # New conversation dialog
    new_open: bool = False
    new_error: str = ""

    @rx.var
    def has_more(self) -> bool:
        return len(self.conversations) < self.total_rows

    # ----- what each page supplies -----
    def _refresh(self, session, actor: Actor, fresh_after: float | None = None) -> None:
        """Reload the list page and counters (``fresh_after``: see state/figure_cache.py)."""
        raise NotImplementedError

    def _set_header(self, session, actor: Actor, conversation) -> None:
        raise NotImplementedError

    def _on_open(self, session, actor: Actor, conversation) -> None:
        """Anything else a page shows for an opened thread."""

    def _send_refusal(self) -> str:
        """Why this thread cannot take a message now ("" when it can)."""
        return ""

    def _attachment_ids(self) -> list[int]:
        """Files waiting to go with the next message."""
        return []

    def _after_stored(self) -> None:
        """A message from this tab was stored."""

    def _new_conversation_args(self, form_data: dict) -> dict:
        """The page's part of a new conversation (for whom, how urgent)."""
        raise NotImplementedError

    def _set_changed(self, **values) -> None:
        """Assign only the vars whose value moved: Reflex sends every assigned var in the
        tab's next delta even when it is equal, and a resent list is re-serialised on the
        server and re-rendered in the browser (a burst's follow-ups refresh the same rows)."""
        for name, value in values.items():
            if self.get_value(name) != value:
                setattr(self, name, value)

    # ----- thread rows -----
    def _thread_rows(self) -> list[dict[str, str]]:
        return [*self.get_value("messages"), *self.get_value("recent")]

    def _show_rows(self, views: list[message_views.MessageView], actor: Actor) -> None:
        """Append stored messages to the thread (only the tail changes, usually)."""
        added = thread_window.add(
            self.get_value("messages"), self.get_value("recent"),
            self.get_value("thread_attachments"), [message_row(v, actor) for v in views],
            attachment_rows(views))
        if added.settled is not None:
            self.messages = added.settled
        self.recent = added.recent
        if added.attachments is not None:
            self.thread_attachments = added.attachments
        self._newest_seq = views[-1].seq
        if added.oldest_seq is not None:
            self._oldest_seq, self.has_older = added.oldest_seq, True

    def _change_rows(self, change) -> None:
        """Apply ``change`` (row -> row, or None to drop) to both lists; a list that did not
        change is not assigned, so Reflex does not send it again."""
        for name in ("messages", "recent"):
            changed = thread_window.replace_rows(self.get_value(name), change)
            if changed is not None:
                setattr(self, name, changed)

    def _append_new(self, session, actor: Actor, conversation_id: int) -> None:
        """Read and show whatever is newer than the newest shown message."""
        views = message_views.list_messages(session, conversation_id=conversation_id,
                                  after_seq=self._newest_seq, limit=thread_window.MAX_THREAD_ROWS)
        if views:
            self._show_rows(views, actor)

    def _show_sent(self, session, actor: Actor, view: message_views.MessageView) -> None:
        """Show a message just stored or published: from the view itself when it is the next
        one, else by reading everything newer (a gap means something was missed)."""
        if view.seq == self._newest_seq + 1:
            self._show_rows([view], actor)
        elif view.seq > self._newest_seq:
            self._append_new(session, actor, view.conversation_id)

    def _apply_receipts(self, session, actor: Actor, conversation) -> None:
        receipt = receipts.receipt_for(session, actor=actor, conversation=conversation)
        self._change_rows(lambda m: message_status.with_status(m, receipt))

    def _close_thread(self) -> None:
        self.open_id = ""
        self.header = {}
        self.messages = []
        self.recent = []
        self.thread_attachments = []
        self.has_older = self.loading_older = False
        self.typing_label = ""
        self._oldest_seq = self._newest_seq = 0

    def _open(self, session, actor: Actor, conversation_id: int, *, as_read: bool = True
              ) -> tuple[int, bool]:
        """Show a conversation and mark it read: its patient id, and whether that read
        something new. ``as_read=False`` only redraws it (restore_for_hydrate): the page load
        that follows opens it for real, audited and read, once."""
        conversation = access_conversation(session, actor=actor, conversation_id=conversation_id)
        newly_read = False
        if as_read:
            audit_log.record_conversation_open(session, actor=actor, conversation=conversation)
            newly_read = receipts.mark_read(session, actor=actor, conversation=conversation)
        views = message_views.list_messages(session, conversation_id=conversation_id, limit=THREAD_PAGE)
        self.open_id = str(conversation_id)
        self.typing_label = ""
        self.messages = [message_row(v, actor) for v in views]
        self.recent = []
        self.thread_attachments = attachment_rows(views)
        self._oldest_seq = views[0].seq if views else 0
        self._newest_seq = views[-1].seq if views else 0
        self.has_older = self._oldest_seq > 1
        self._show_header(session, actor, conversation)
        self._apply_receipts(session, actor, conversation)
        self._on_open(session, actor, conversation)
        return conversation.patient_id, newly_read

    def _open_from_address(self, session, actor: Actor, raw_id: object) -> None:
        """Open ``?c=<id>`` during a page load (a new read reaches the senders' screens as
        the read's domain event)."""
        try:
            conversation_id = parse_id(raw_id)
            if conversation_id is None:
                raise NotFoundError(INVALID_CONVERSATION)
            self._open(session, actor, conversation_id)
        except ServiceError as error:
            self.thread_error = str(error)

    # ----- after a server restart -----
    async def restore_for_hydrate(self) -> None:
        """Rebuild what this tab showed before its server state was lost, ahead of the
        hydrate snapshot (state/restore.py).

        A restarted server holds a fresh state for a reconnecting tab: without this the
        snapshot would blank the open thread and the list until the page's on_load ran again,
        and the thread, the messages in it and the outbox's bubbles would vanish from the
        screen for a moment. The page load that follows does its own work (audit, read marks,
        receipts) as on any visit.
        """
        if self.outbox_owner:  # alive: this state was built by a page load in this process
            return
        actor = await resolve_actor(self, touch=False)
        if actor is None or actor.role != self.ROLE or actor.must_enroll_totp:
            return
        self.outbox_owner = outbox_owner(actor.user_id)
        requested = parse_id(self.router.url.query_parameters.get("c"))

        def rebuild() -> None:
            with session_scope() as session:
                if requested is not None:
                    try:
                        self._open(session, actor, requested, as_read=False)
                    except ServiceError:
                        self._close_thread()
                self._refresh(session, actor)

        await offloop.run_db(rebuild)

    # ----- handlers -----
    @guarded(PAGE_ROLE)
    async def open_conversation(self, actor: Actor, conversation_id: int):
        """Open a thread in place (no navigation); the id is re-checked like any other."""
        self.thread_error = self.send_error = ""

        def open_it() -> None:
            with session_scope() as session:
                try:
                    requested = parse_id(conversation_id)
                    if requested is None:
                        raise NotFoundError(INVALID_CONVERSATION)
                    self._open(session, actor, requested)
                except ServiceError as error:
                    self._close_thread()
                    self.thread_error = str(error)
                    return
                self._refresh(session, actor)

        await offloop.run_db(open_it)
        return None

    @guarded(PAGE_ROLE)
    async def load_more(self, actor: Actor):
        self.list_limit = min(self.list_limit + PAGE_SIZE, MAX_LIST_ROWS)
        await offloop.run_db(self._refresh_now, actor)
        return None

    def _refresh_now(self, actor: Actor) -> None:
        with session_scope() as session:
            self._refresh(session, actor)

    @guarded(PAGE_ROLE)
    async def load_older(self, actor: Actor):
        """The page before the oldest shown message (the reader scrolled up to it, or pressed
        "Load older messages"); the conversation is re-checked like any other."""
        conversation_id = parse_id(self.open_id)
        if conversation_id is None or self._oldest_seq <= 1 or self.loading_older:
            return
        self.loading_older = True
        yield  # "Loading older messages…" shows while the page is read
        try:
            await offloop.run_db(self._prepend_older, actor, conversation_id)
        finally:
            self.loading_older = False

    def _prepend_older(self, actor: Actor, conversation_id: int) -> None:
        with session_scope() as session:
            try:
                access_conversation(session, actor=actor, conversation_id=conversation_id)
            except ServiceError as error:
                self._close_thread()
                self.thread_error = str(error)
                return
            views = message_views.list_messages(session, conversation_id=conversation_id,
                                      before_seq=self._oldest_seq, limit=THREAD_PAGE)
        if views:
            self.messages = [message_row(v, actor) for v in views] + self.messages
            self.thread_attachments = attachment_rows(views) + self.thread_attachments
            self._oldest_seq = views[0].seq
        self.has_older = self._oldest_seq > 1

    @guarded(PAGE_ROLE)
    async def send_reply(self, actor: Actor, form_data: dict):
        """Store one message from the tab's outbox (assets/outbox.js) exactly once, and answer
        with an acknowledgement naming its client id.

        The browser makes the client id at the moment of submit, one per message, keeps the
        message in its outbox until this acknowledgement arrives and resends it with the same
        id after a reconnect, a server restart or a reload: a repeat returns the stored
        message. The conversation comes with the message (it may have been typed in another
        thread than the one open now) and is re-checked like any id from the browser.
        """
        client_id = outbox.client_id(form_data.get("client_msg_id"))
        if client_id is None:
            self.send_error = outbox.NO_CLIENT_ID
            return
        raw_conversation = form_data.get("conversation_id") or self.open_id
        conversation_id = parse_id(raw_conversation)
        if conversation_id is None:
            self._ack(outbox.refused(client_id, INVALID_CONVERSATION))
            return
        body = str(form_data.get("body", ""))[: message_sending.MAX_BODY_CHARS + 1]
        is_open = conversation_id == parse_id(self.open_id)
        # Files wait in the open thread's composer: they go with a message for that thread.
        attachment_ids = self._attachment_ids() if is_open else []
        if not body.strip() and not attachment_ids:
            self.send_error = self.EMPTY_SEND_ERROR
            self._ack(outbox.failed(client_id, self.EMPTY_SEND_ERROR))
            return
        refusal = self._send_refusal() if is_open else ""
        if refusal:
            self.send_error = refusal
            self._ack(outbox.failed(client_id, refusal))
            return
        self.send_error = ""
        async for event in self._store(actor, conversation_id, body, client_id, attachment_ids):
            yield event

    @rx.event
    def outbox_unavailable(self, _form_data: dict):
        """The reply form was submitted without the outbox script (it failed to load): nothing
        is sent, the text stays in the box, and the page says so."""
        self.send_error = outbox.NO_CLIENT_ID

    def _ack(self, ack: dict[str, str]) -> None:
        """Tell this tab's outbox what became of one of its messages."""
        self.outbox_acks = outbox.with_ack(self.outbox_acks, ack)

    async def _store(self, actor: Actor, conversation_id: int, body: str, client_id: str,
                     attachment_ids: list[int]):
        try:
            result = await offloop.run_db(_send, actor, conversation_id, body, client_id,
                                          attachment_ids)
        except NotFoundError as error:
            # Gone or never visible: nothing to retry.
            self.send_error = str(error)
            self._ack(outbox.refused(client_id, str(error)))
            return
        except ServiceError as error:
            self._ack(outbox.failed(client_id, str(error)))
            return
        except Exception:  # database unavailable etc.: the outbox keeps it and tries again
            self._ack(outbox.try_again(client_id))
            return
        if attachment_ids:
            self._after_stored()
        realtime.stop_typing(conversation_id=conversation_id, actor_user_id=actor.user_id)
        # The others' deliveries were started by the send's commit (its domain event).
        await asyncio.sleep(0)  # the receivers' deliveries (tasks) start before our update
        # The stored message goes into the open thread (a seq is never shown twice) in the
        # same delta as the acknowledgement, so the outbox's bubble gives way to it at once.
        if conversation_id == parse_id(self.open_id):
            if result.message.seq == self._newest_seq + 1:
                self._show_rows([result.message], actor)
            elif result.message.seq > self._newest_seq:
                await offloop.run_db(self._show_sent_now, actor, result.message)
        self._ack(outbox.stored(client_id, result.message.seq))
        yield
        # Then header, receipts, list and counters, as for any live event on this tab.
        await realtime.follow_up_own_send(self, realtime.LiveEvent(
            kind=realtime.LiveKind.MESSAGE, conversation_id=conversation_id, patient_id=result.patient_id,
            actor_user_id=actor.user_id, seq=result.message.seq))

    def _show_sent_now(self, actor: Actor, view: message_views.MessageView) -> None:
        with session_scope() as session:
            self._show_sent(session, actor, view)

    @guarded(PAGE_ROLE)
    async def typing(self, actor: Actor, _value: str = ""):
        """The reply box changed: tell the others, at most every 2 seconds."""
        conversation_id = parse_id(self.open_id)
        now = time.monotonic()
        if (conversation_id is None or self._send_refusal()
                or now - self._last_typing_sent < TYPING_EVERY_SECONDS):
            return None
        self._last_typing_sent = now
        found = await offloop.run_db(_typing_audience, actor, conversation_id)
        if found is None:
            return None
        patient_id, users = found
        await realtime.publish_typing(
            conversation_id=conversation_id, patient_id=patient_id,
            actor_user_id=actor.user_id, label=actor.display_name, user_ids=users,
            exclude_token=self.router.session.client_token,
        )
        return None

    @guarded(PAGE_ROLE)
    async def create(self, actor: Actor, form_data: dict):
        """Start a conversation from the New Conversation/Message dialog, then open it."""
        self.new_error = ""
        extra = self._new_conversation_args(form_data)

        def create_it() -> int | None:
            with session_scope() as session:
                try:
                    conversation, _ = conv.create_conversation(
                        session, actor=actor,
                        topic=str(form_data.get("topic", "")),
                        body=str(form_data.get("body", "")),
                        reason=str(form_data.get("reason", "")),
                        category=str(form_data.get("category", "")),
                        client_msg_id=str(form_data.get("client_msg_id", "")) or uuid.uuid4().hex,
                        **extra,
                    )
                except ServiceError as error:
                    session.rollback()
                    self.new_error = str(error)
                    return None
                return conversation.id or 0

        conversation_id = await offloop.run_db(create_it)
        if conversation_id is None:
            return None
        self.new_open = False
        return rx.redirect(f"{self.PAGE_PATH}?c={conversation_id}")

    # ----- live updates (called by realtime via app.modify_state) -----
    async def _live_actor(self) -> Actor | None:
        actor = await live_actor(self)
        return actor if actor is not None and actor.role == self.ROLE else None

    async def _apply_live_event(self, event) -> bool:
        """Phase one, on the delivery path: a new message in the open thread shows at once.

        Returns True when the follow-up (``_after_live_events``) must run: everything else,
        including marking read and the list and counters, which coalesces over a burst.
        """
        actor = await self._live_actor()
        if actor is None:
            return False
        open_id = parse_id(self.open_id)
        is_open = open_id is not None and event.conversation_id == open_id
        if event.kind == realtime.LiveKind.TYPING:
            if is_open and event.actor_user_id != actor.user_id:
                self.typing_label = f"{event.label} is typing…" if event.label else ""
            return False
        if event.kind == realtime.LiveKind.RECEIPT and not is_open:
            return False
        if is_open and event.kind == realtime.LiveKind.MESSAGE:
            if event.message is not None and event.message.seq == self._newest_seq + 1:
                # The event carries the committed message and reached us because we are a
                # participant as of that commit (realtime.LiveEvent): no query needed.
                self._show_rows([event.message], actor)
            elif not await offloop.run_db(self._catch_up, actor, open_id):
                return True
            if event.actor_user_id != actor.user_id:
                self.typing_label = ""
        return True

    def _catch_up(self, actor: Actor, open_id: int) -> bool:
        """The open thread's new rows from the database; False when it is no longer ours."""
        with session_scope() as session:
            try:
                access_conversation(session, actor=actor, conversation_id=open_id)
            except ServiceError:
                self._close_thread()
                return False
            self._append_new(session, actor, open_id)
        return True

    def _show_header(self, session, actor: Actor, conversation) -> None:
        self._set_header(session, actor, conversation)
        self._header_key = header_key(conversation)

    async def _after_live_events(self, events: list) -> None:
        """Phase two: read marks, header, receipts, list and counters, once per burst."""
        actor = await self._live_actor()
        if actor is None:
            return
        open_id = parse_id(self.open_id)
        await offloop.run_db(self._follow_up, actor, open_id, events)

    def _follow_up(self, actor: Actor, open_id: int | None, events: list) -> None:
        kinds = {e.kind for e in events}
        with session_scope() as session:
            if open_id is not None and open_id in {e.conversation_id for e in events}:
                try:
                    conversation = access_conversation(session, actor=actor,
                                                       conversation_id=open_id)
                    if realtime.LiveKind.MESSAGE in kinds:
                        if conversation.last_seq > self._newest_seq:  # phase one missed some
                            self._append_new(session, actor, open_id)
                        # A new read reaches the senders' screens as its domain event.
                        receipts.mark_read(session, actor=actor, conversation=conversation)
                    if header_key(conversation) != self._header_key:
                        self._show_header(session, actor, conversation)
                    self._apply_receipts(session, actor, conversation)
                except ServiceError:
                    self._close_thread()
            if kinds - {realtime.LiveKind.RECEIPT}:
                self._refresh(session, actor, fresh_after=max(e.created_at for e in events))

    # ----- the interface live delivery calls (realtime.py) -----
    # Static methods taking the page state: public to the server, but never event handlers
    # (Reflex makes every public method of a state callable from the browser).
    @staticmethod
    async def apply_live_event(state: ThreadPageState, event) -> bool:
        """Phase one for one event on this tab; True when the follow-up must run."""
        return await state._apply_live_event(event)

    @staticmethod
    async def after_live_events(state: ThreadPageState, events: list) -> None:
        """Phase two for a burst on this tab, then what the tab received is recorded."""
        await state._after_live_events(events)
        actor = await state._live_actor()
        if actor is not None:
            await offloop.run_db(record_deliveries, actor.user_id, events)


def _send(actor: Actor, conversation_id: int, body: str, client_id: str,
          attachment_ids: list[int]) -> message_sending.SendResult:
    with session_scope() as session:
        return message_sending.send_message(session, actor=actor, conversation_id=conversation_id,
                                body=body, client_msg_id=client_id,
                                attachment_ids=attachment_ids)


def _typing_audience(actor: Actor, conversation_id: int) -> tuple[int, list[int]] | None:
    """The open conversation's patient and participants, or None when it is not ours."""
    with session_scope() as session:
        try:
            conversation = access_conversation(session, actor=actor,
                                               conversation_id=conversation_id)
        except ServiceError:
            return None
        return conversation.patient_id, participant_user_ids(session, conversation.patient_id)


def record_deliveries(user_id: int, events: list) -> None:
    """A tab of ``user_id`` has shown these events: move the delivered marks of the incoming
    messages (newest per conversation) through the service; its DELIVERED event tells each
    sender's screen ("Delivered")."""
    newest: dict[int, object] = {}
    for event in events:
        incoming = event.kind == realtime.LiveKind.MESSAGE and event.seq and event.actor_user_id != user_id
        known = newest.get(event.conversation_id)
        if incoming and (known is None or event.seq > known.seq):
            newest[event.conversation_id] = event
    for event in newest.values():
        # Called through offloop.run_db: on the loop on SQLite (a sub-millisecond write, and
        # SQLite writers on two threads would wait on each other's lock with the busy
        # handler), in the database pool on PostgreSQL.
        with session_scope() as session:
            receipts.mark_delivered(session, user_id=user_id, conversation_id=event.conversation_id,
                               seq=event.seq, patient_id=event.patient_id,
                               notify_user_ids=(event.actor_user_id,))
