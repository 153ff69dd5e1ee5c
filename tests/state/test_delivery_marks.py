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


async def _lee_gets_a_message(session, monkeypatch, *,
                              thread_open: bool) -> tuple[ReadState, list, list]:
    """Maria writes; Lee's dashboard tab (her thread open or not) takes the live event
    through phase one and the follow-up, as realtime delivers it."""
    from care_messaging.pages.dashboard import DashboardState
    from tests.factories import PASSWORD
    from tests.state.helpers import call, make_state, sign_in_token

    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Rash",
        body="It spread")
    session.commit()
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    tab = make_state(DashboardState, token=token, path="/dashboard",
                     query=f"c={conversation.id}" if thread_open else "")
    await call(tab, "load")
    result = sending.send_message(session, actor=people["maria"], conversation_id=conversation.id,
                                  body="And it itches", client_msg_id=uuid.uuid4().hex)
    session.commit()
    published: list[events.DomainEvent] = []
    events.on_commit(published.extend)
    from care_messaging.state import thread_live

    recorded: list[list] = []
    real_record = thread_live.record_deliveries
    monkeypatch.setattr(thread_live, "record_deliveries",
                        lambda user_id, evs, *rest: recorded.append(evs) or real_record(
                            user_id, evs, *rest))
    try:
        event = _event(result, people["maria"])
        if await DashboardState.apply_live_event(tab, event):
            await DashboardState.after_live_events(tab, [event])
    finally:
        events.remove(published.extend)
    session.expire_all()
    return (session.get(ReadState, (people["lee"].user_id, conversation.id)), published,
            recorded)


async def test_a_message_read_in_the_open_thread_needs_no_delivered_mark_of_its_own(
        session, monkeypatch):
    """Read moves the delivered mark too, and the READ event tells Maria's screen: the
    follow-up's separate delivered transaction (four round trips on PostgreSQL) is skipped."""
    state, published, recorded = await _lee_gets_a_message(session, monkeypatch,
                                                           thread_open=True)
    assert state.last_read_seq == state.last_delivered_seq == 2
    kinds = [e.kind for e in published]
    assert events.Kind.READ in kinds and events.Kind.DELIVERED not in kinds
    assert recorded == []


async def test_a_message_not_open_is_marked_delivered(session, monkeypatch):
    state, published, recorded = await _lee_gets_a_message(session, monkeypatch,
                                                           thread_open=False)
    assert len(recorded) == 1
    assert (state.last_read_seq, state.last_delivered_seq) == (0, 2)
    assert [e.kind for e in published if e.kind in (events.Kind.READ, events.Kind.DELIVERED)] \
        == [events.Kind.DELIVERED]
