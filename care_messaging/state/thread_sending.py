"""Sending: a reply from the tab's outbox stored exactly once and acknowledged, the typing
indicator, and a new conversation (a Reflex state mixin of state/thread_page.py). The
conversation comes with each message and is re-checked like any id from the browser.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import reflex as rx

from care_messaging import realtime
from care_messaging.db import session_scope
from care_messaging.services import conversations as conv
from care_messaging.services import message_sending, message_views
from care_messaging.services.access import (
    INVALID_CONVERSATION,
    access_conversation,
    participant_user_ids,
)
from care_messaging.services.actors import Actor
from care_messaging.services.errors import NotFoundError, ServiceError
from care_messaging.state import outbox
from care_messaging.state.guarded import PAGE_ROLE, guarded
from care_messaging.state.thread_base import ThreadBaseState, parse_id
from care_messaging.web import offloop

log = logging.getLogger(__name__)
TYPING_EVERY_SECONDS = 2.0


class ThreadSendingState(ThreadBaseState, mixin=True):
    """Replies through the outbox, the typing indicator, a new conversation."""

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
            log.exception("storing a message failed; the tab's outbox sends it again")
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
