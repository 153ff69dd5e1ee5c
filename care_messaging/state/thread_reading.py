"""Opening and reading a thread: open it (audited, marked read), page through older messages,
load more of the list, and rebuild a restarted tab's view (a Reflex state mixin of
state/thread_page.py). Every id from the browser is re-checked through the services.
"""

from __future__ import annotations

from care_messaging.crypto import outbox_owner
from care_messaging.db import session_scope
from care_messaging.presenters.patient import attachment_rows
from care_messaging.presenters.provider import message_row
from care_messaging.services import audit_log, message_views, receipts
from care_messaging.services.access import INVALID_CONVERSATION, access_conversation
from care_messaging.services.actors import Actor
from care_messaging.services.errors import NotFoundError, ServiceError
from care_messaging.state.auth import resolve_actor
from care_messaging.state.guarded import PAGE_ROLE, guarded
from care_messaging.state.shared_values import NO_ROWS, shared_text
from care_messaging.state.thread_base import (
    MAX_LIST_ROWS,
    PAGE_SIZE,
    THREAD_PAGE,
    ThreadBaseState,
    parse_id,
)
from care_messaging.web import offloop


class ThreadReadingState(ThreadBaseState, mixin=True):
    """Opening a thread, its older pages, more of the list, a restarted tab's view."""

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
        self.recent = NO_ROWS
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
        self.outbox_owner = shared_text(outbox_owner(actor.user_id))
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
