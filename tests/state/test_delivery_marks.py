"""Delivered marks are recorded once per burst, by the receiving tab's follow-up, through the
service: its DELIVERED event (not realtime) tells the sender's screen."""

from __future__ import annotations

import uuid

from care_messaging import realtime
from care_messaging.models import ReadState
from care_messaging.services import conversations as conv
from care_messaging.services import events
from care_messaging.services import message_sending as sending
from care_messaging.state.thread_live import record_deliveries
from tests.factories import clinic


def _event(result: sending.SendResult, actor) -> realtime.LiveEvent:
    return realtime.LiveEvent(kind="message", conversation_id=result.message.conversation_id,
                              patient_id=result.patient_id, actor_user_id=actor.user_id,
                              seq=result.message.seq)


async def test_a_burst_moves_the_delivered_mark_to_its_newest_message(session):
    published: list[events.DomainEvent] = []
    events.on_commit(published.extend)
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Dizzy", body="Since Monday")
    session.commit()
    sent = [sending.send_message(session, actor=people["maria"], conversation_id=conversation.id,
                                 body=f"m{i}", client_msg_id=uuid.uuid4().hex) for i in range(3)]
    session.commit()
    lee = people["lee"].user_id
    own = realtime.LiveEvent(kind="message", conversation_id=conversation.id,
                             actor_user_id=lee, seq=99)  # Lee's own message: never a receipt
    try:
        record_deliveries(lee, [_event(s, people["maria"]) for s in sent] + [own])
    finally:
        events.remove(published.extend)
    session.expire_all()
    state = session.get(ReadState, (lee, conversation.id))
    assert state.last_delivered_seq == sent[-1].message.seq == 4
    assert state.last_read_seq == 0  # delivered is not read
    # One event for the burst, for Maria's screen.
    [delivered] = [e for e in published if e.kind == events.Kind.DELIVERED]
    assert (delivered.actor_user_id, delivered.seq, delivered.user_ids) == (
        lee, 4, (people["maria"].user_id,))


async def test_the_senders_own_tab_records_nothing(session):
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Dizzy", body="Since Monday")
    session.commit()
    result = sending.send_message(session, actor=people["maria"], conversation_id=conversation.id,
                                  body="again", client_msg_id="x")
    session.commit()
    maria = people["maria"].user_id
    before = session.get(ReadState, (maria, conversation.id)).last_delivered_seq
    record_deliveries(maria, [_event(result, people["maria"])])
    session.expire_all()
    assert session.get(ReadState, (maria, conversation.id)).last_delivered_seq == before == 2
