"""The sender's status line follows the other side: Sending… -> Sent -> Delivered -> Read hh:mm."""

from __future__ import annotations

import json
import re

from care_messaging import realtime
from care_messaging.models import Conversation
from care_messaging.pages.dashboard import DashboardState
from care_messaging.presenters import message_status
from care_messaging.services import conversations as conv
from care_messaging.services import message_sending as sending
from care_messaging.services import receipts
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, deliver, make_state, sign_in_token, thread


async def test_status_moves_from_sending_to_read(session):
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Dizzy", body="Since Monday")
    session.commit()
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={conversation.id}")
    await call(state, "load")

    # "Sending…" is the browser's outbox bubble (assets/outbox.js); the stored message comes
    # back with the same client id and the acknowledgement names it with its seq.
    await call(state, "send_reply", {"body": "Please rest today.", "client_msg_id": "c-1"})
    assert thread(state)[-1]["status"] == message_status.SENT
    assert thread(state)[-1]["client_id"] == "c-1"
    assert json.loads(state.outbox_acks)[-1] == {"c": "c-1", "k": "stored",
                                                 "seq": thread(state)[-1]["seq"]}
    seq = int(thread(state)[-1]["seq"])

    # Maria's tab receives it (what realtime/delivery.py's _deliver records), then she opens it.
    assert receipts.mark_delivered(session, user_id=people["maria"].user_id,
                                   conversation_id=conversation.id, seq=seq)
    session.commit()
    await deliver(state, realtime.LiveEvent(kind="receipt", conversation_id=conversation.id))
    assert thread(state)[-1]["status"] == message_status.DELIVERED
    session.expire_all()
    receipts.mark_read(session, actor=people["maria"],
                       conversation=session.get(Conversation, conversation.id))
    session.commit()
    await deliver(state, realtime.LiveEvent(kind="receipt", conversation_id=conversation.id))
    assert thread(state)[-1]["status"] == message_status.READ
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", thread(state)[-1]["read_at"])
    # The patient's own message never shows a status on the provider's screen.
    assert thread(state)[0]["status"] == ""


async def test_a_repeated_client_id_returns_the_stored_message(session):
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Refill", body="Please")
    session.commit()
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={conversation.id}")
    await call(state, "load")
    await call(state, "send_reply", {"body": "Sent to the pharmacy.", "client_msg_id": "dup"})
    # The outbox resends after a reconnect or a reload: same id, one message, same answer.
    await call(state, "send_reply", {"body": "Sent to the pharmacy.", "client_msg_id": "dup",
                                     "conversation_id": str(conversation.id)})
    assert state.send_error == ""
    assert [m["body"] for m in thread(state)].count("Sent to the pharmacy.") == 1
    assert json.loads(state.outbox_acks) == [{"c": "dup", "k": "stored", "seq": "2"}]
    session.expire_all()
    assert session.get(Conversation, conversation.id).last_seq == 2


async def test_a_tab_that_restarted_with_the_server_acknowledges_a_stored_resend(session):
    """The server died after storing a message but before answering: the outbox sends it
    again to a fresh state (nothing open yet) and gets the stored seq back, nothing doubled."""
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, reason="Test follow-up", actor=people["maria"], patient_id=None, topic="Refill", body="Please")
    session.commit()
    sending.send_message(session, actor=people["lee"], conversation_id=conversation.id,
                         body="Before the crash", client_msg_id="crash-1")
    session.commit()
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    fresh = make_state(DashboardState, token=token, path="/dashboard")
    await call(fresh, "send_reply", {"body": "Before the crash", "client_msg_id": "crash-1",
                                     "conversation_id": str(conversation.id)})
    assert json.loads(fresh.outbox_acks) == [{"c": "crash-1", "k": "stored", "seq": "2"}]
    assert thread(fresh) == []  # not open here: nothing drawn into a thread it does not show
    session.expire_all()
    assert session.get(Conversation, conversation.id).last_seq == 2


async def test_database_down_keeps_the_message_for_the_outbox_to_send_again(session, monkeypatch):
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Refill", body="Please")
    session.commit()
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={conversation.id}")
    await call(state, "load")
    real_send = sending.send_message

    def database_down(*args, **kwargs):
        raise OSError("database unavailable")

    # Where the page looks it up (state/thread_sending.py).
    monkeypatch.setattr("care_messaging.state.thread_sending.message_sending.send_message", database_down)
    await call(state, "send_reply", {"body": "Call me back", "client_msg_id": "r-1"})
    assert json.loads(state.outbox_acks)[-1]["k"] == "retry"
    assert [m["body"] for m in thread(state)] == ["Please"]
    monkeypatch.setattr("care_messaging.state.thread_sending.message_sending.send_message", real_send)
    await call(state, "send_reply", {"body": "Call me back", "client_msg_id": "r-1"})
    assert json.loads(state.outbox_acks)[-1] == {"c": "r-1", "k": "stored", "seq": "2"}
    assert [m["body"] for m in thread(state)] == ["Please", "Call me back"]


async def test_a_refusal_the_sender_can_act_on_is_acknowledged_as_failed(session):
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, reason="Test follow-up", actor=people["maria"], patient_id=None, topic="Refill", body="Please")
    session.commit()
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={conversation.id}")
    await call(state, "load")
    too_long = "x" * (sending.MAX_BODY_CHARS + 1)
    await call(state, "send_reply", {"body": too_long, "client_msg_id": "long-1"})
    ack = json.loads(state.outbox_acks)[-1]
    assert ack["c"] == "long-1" and ack["k"] == "failed" and ack["e"]
    # Ids that are not ours are refused before anything is stored.
    for bad in ["", "x" * 65, "<script>", "a b"]:
        state.send_error = ""
        await call(state, "send_reply", {"body": "hi", "client_msg_id": bad})
        assert state.send_error
    session.expire_all()
    assert session.get(Conversation, conversation.id).last_seq == 1
