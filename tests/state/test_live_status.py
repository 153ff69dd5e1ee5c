"""The sender's status line follows the other side: Sending… -> Sent -> Delivered -> Read hh:mm."""

from __future__ import annotations

import re

from care_messaging import realtime
from care_messaging.components import message_status
from care_messaging.models import Conversation
from care_messaging.pages.dashboard import DashboardState
from care_messaging.services import conversations as conv
from care_messaging.services import messages as msg
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, deliver, make_state, sign_in_token, thread


async def test_status_moves_from_sending_to_read(session):
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, topic="Dizzy", body="Since Monday")
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={conversation.id}")
    await call(state, "load")

    events = state.send_reply({"body": "Please rest today.", "client_msg_id": "c-1"})
    await anext(events)  # first yield: the optimistic bubble, before anything is stored
    assert thread(state)[-1]["status"] == message_status.SENDING
    assert thread(state)[-1]["client_id"] == "c-1"
    async for _ in events:
        pass
    assert thread(state)[-1]["status"] == message_status.SENT
    seq = int(thread(state)[-1]["seq"])

    # Maria's tab receives it (what realtime._deliver records), then she opens it.
    assert msg.mark_delivered(session, user_id=people["maria"].user_id,
                              conversation_id=conversation.id, seq=seq)
    await deliver(state, realtime.LiveEvent(kind="receipt", conversation_id=conversation.id))
    assert thread(state)[-1]["status"] == message_status.DELIVERED
    session.expire_all()
    msg.mark_read(session, actor=people["maria"],
                  conversation=session.get(Conversation, conversation.id))
    await deliver(state, realtime.LiveEvent(kind="receipt", conversation_id=conversation.id))
    assert thread(state)[-1]["status"] == message_status.READ
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", thread(state)[-1]["read_at"])
    # The patient's own message never shows a status on the provider's screen.
    assert thread(state)[0]["status"] == ""


async def test_double_submit_with_one_client_id_stores_one_message(session):
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, topic="Refill", body="Please")
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={conversation.id}")
    await call(state, "load")
    await call(state, "send_reply", {"body": "Sent to the pharmacy.", "client_msg_id": "dup"})
    # The second click arrives with the same hidden id (the form was already cleared).
    await call(state, "send_reply", {"body": "", "client_msg_id": "dup"})
    await call(state, "send_reply", {"body": "Sent to the pharmacy.", "client_msg_id": "dup"})
    assert state.send_error == ""
    assert [m["body"] for m in thread(state)].count("Sent to the pharmacy.") == 1
    session.expire_all()
    assert session.get(Conversation, conversation.id).last_seq == 2


async def test_failed_send_keeps_the_text_and_retry_stores_it_once(session, monkeypatch):
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, topic="Refill", body="Please")
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={conversation.id}")
    await call(state, "load")
    real_send = msg.send_message

    def database_down(*args, **kwargs):
        raise OSError("database unavailable")

    monkeypatch.setattr(msg, "send_message", database_down)
    await call(state, "send_reply", {"body": "Call me back", "client_msg_id": "r-1"})
    assert thread(state)[-1]["failed"] == "1"
    assert thread(state)[-1]["body"] == "Call me back"
    assert thread(state)[-1]["status"].startswith(message_status.FAILED)
    monkeypatch.setattr(msg, "send_message", real_send)
    await call(state, "retry_send", "r-1")
    assert thread(state)[-1]["failed"] == "" and thread(state)[-1]["status"] == "Sent"
    await call(state, "retry_send", "r-1")  # nothing left to retry
    session.expire_all()
    assert session.get(Conversation, conversation.id).last_seq == 2
