"""Live updates on an open thread page: what realtime delivers to a tab (a new message shows at
once; read marks, header, receipts, list and counters follow once per burst), and the
delivered marks for what the tab showed (a Reflex state mixin of state/thread_page.py).
"""

from __future__ import annotations

from care_messaging import realtime
from care_messaging.crypto import outbox_owner
from care_messaging.db import session_scope
from care_messaging.services import receipts
from care_messaging.services.access import access_conversation
from care_messaging.services.actors import Actor
from care_messaging.services.errors import ServiceError
from care_messaging.state.auth import live_actor
from care_messaging.state.shared_values import shared_text
from care_messaging.state.thread_base import ThreadBaseState, header_key, parse_id
from care_messaging.web import offloop


class ThreadLiveState(ThreadBaseState, mixin=True):
    """Live updates (called by realtime via app.modify_state)."""

    async def _begin_load(self, actor: Actor) -> None:
        """What a thread page does first when it loads: the tab joins its user's live tabs,
        its outbox is named for that user, and no earlier refusal is left on screen."""
        await realtime.register(user_id=actor.user_id,
                                client_token=self.router.session.client_token,
                                state_cls=type(self))
        self.thread_error = self.send_error = self.new_error = ""
        self.outbox_owner = shared_text(outbox_owner(actor.user_id))

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
            elif 0 < event.seq <= self._newest_seq:
                # Shown already: a follow-up that ran first read it with the ones before it
                # (the thread is shown without gaps). Under load this is a few percent of
                # events, and each would otherwise cost an access check and a read.
                pass
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

    async def _after_live_events(self, events: list,
                                 read_up_to: dict[int, int] | None = None) -> None:
        """Phase two: read marks, header, receipts, list and counters, once per burst.
        ``read_up_to`` gets what this marked read (conversation id -> sequence number)."""
        actor = await self._live_actor()
        if actor is None:
            return
        open_id = parse_id(self.open_id)
        await offloop.run_db(self._follow_up, actor, open_id, events,
                             {} if read_up_to is None else read_up_to)

    def _follow_up(self, actor: Actor, open_id: int | None, events: list,
                   read_up_to: dict[int, int]) -> None:
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
                        read_up_to[open_id] = conversation.last_seq
                    if header_key(conversation) != self._header_key:
                        self._show_header(session, actor, conversation)
                    self._apply_receipts(session, actor, conversation)
                except ServiceError:
                    self._close_thread()
            if kinds - {realtime.LiveKind.RECEIPT}:
                self._refresh(session, actor, fresh_after=max(e.created_at for e in events))

    # ----- the interface live delivery calls (realtime/delivery.py) -----
    # Static methods taking the page state: public to the server, but never event handlers
    # (Reflex makes every public method of a state callable from the browser).
    @staticmethod
    async def apply_live_event(state: ThreadLiveState, event) -> bool:
        """Phase one for one event on this tab; True when the follow-up must run."""
        return await state._apply_live_event(event)

    @staticmethod
    async def after_live_events(state: ThreadLiveState, events: list) -> None:
        """Phase two for a burst on this tab, then what the tab received is recorded."""
        read_up_to: dict[int, int] = {}
        await state._after_live_events(events, read_up_to)
        actor = await state._live_actor()
        if actor is not None and _not_yet_read(actor.user_id, events, read_up_to):
            await offloop.run_db(record_deliveries, actor.user_id, events, read_up_to)


def _not_yet_read(user_id: int, events: list, read_up_to: dict[int, int]) -> bool:
    return any(_incoming_unread(user_id, e, read_up_to) for e in events)


def _incoming_unread(user_id: int, event, read_up_to: dict[int, int]) -> bool:
    """A message of someone else that the follow-up did not just mark read."""
    return bool(event.kind == realtime.LiveKind.MESSAGE and event.seq
                and event.actor_user_id != user_id
                and read_up_to.get(event.conversation_id, 0) < event.seq)


def record_deliveries(user_id: int, events: list, read_up_to: dict[int, int] | None = None) -> None:
    """A tab of ``user_id`` has shown these events: move the delivered marks of the incoming
    messages (newest per conversation) through the service; its DELIVERED event tells each
    sender's screen ("Delivered"). Messages the follow-up just marked read (``read_up_to``)
    are skipped: read is delivered too (the same mark moved), and the READ event told the
    senders already; on PostgreSQL that is a transaction of four round trips saved."""
    read_up_to = read_up_to or {}
    newest: dict[int, object] = {}
    for event in events:
        incoming = _incoming_unread(user_id, event, read_up_to)
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
