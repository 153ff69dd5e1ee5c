"""Portal handlers with forged ids and input: nothing leaks, nothing is created by mistake."""

from __future__ import annotations

from sqlmodel import func, select

from care_messaging.models import Conversation, Message
from care_messaging.pages.portal import PortalState
from care_messaging.services import conversations as conv
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, make_state, redirect_path, sign_in_token, thread


def _setup(session):
    people = clinic(session)
    mine, _ = conv.create_conversation(session, actor=people["lee"],
                                       patient_id=people["maria_patient"].id,
                                       reason="Test", topic="Your lab results", body="All normal.")
    session.commit()
    theirs, _ = conv.create_conversation(session, actor=people["james"], patient_id=None,
                                         reason="Test", topic="James private", body="Private")
    session.commit()
    return people, mine.id, theirs.id, sign_in_token(session, people["maria"].email, PASSWORD)


def _count(session, model) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(model)).one()


async def test_list_shows_only_own_conversations_with_unread_badges(session):
    _people, mine, _theirs, token = _setup(session)
    state = make_state(PortalState, token=token, path="/portal")
    assert state.list_loaded is False  # the page says "Loading", not "No messages yet"
    assert redirect_path(await call(state, "load")) is None
    assert state.list_loaded is True
    assert [r["id"] for r in state.conversations] == [str(mine)]
    row = state.conversations[0]
    assert row["unread"] == "1" and row["provider"] == "Dr. Lee" and row["status"] == "Active"
    assert state.nav_unread == 1


async def test_opening_marks_read_and_another_patients_id_is_not_found(session):
    _people, mine, theirs, token = _setup(session)
    state = make_state(PortalState, token=token, path="/portal", query=f"c={mine}")
    await call(state, "load")
    assert [m["sender"] for m in thread(state)] == ["Dr. Lee"]
    assert state.nav_unread == 0 and state.conversations[0]["unread"] == "0"
    for query in (f"c={theirs}", "c=424242", "c=x"):
        state = make_state(PortalState, token=token, path="/portal", query=query)
        await call(state, "load")
        assert state.thread_error == "Conversation not found." and thread(state) == []
        assert state.open_id == "" and state.header == {}


async def test_forged_open_id_cannot_send_or_upload(session):
    _people, _mine, theirs, token = _setup(session)
    state = make_state(PortalState, token=token, path="/portal")
    await call(state, "load")
    before = _count(session, Message)
    state.open_id = str(theirs)
    await call(state, "send_reply", {"body": "hello?", "client_msg_id": "forged"})
    assert state.send_error == "Conversation not found."
    assert _count(session, Message) == before


async def test_completed_conversation_is_read_only(session):
    people, mine, _theirs, token = _setup(session)
    conv.set_status(session, actor=people["lee"], conversation_id=mine, status="completed")
    session.commit()
    state = make_state(PortalState, token=token, path="/portal", query=f"c={mine}")
    await call(state, "load")
    assert state.read_only is True
    await call(state, "send_reply", {"body": "one more thing", "client_msg_id": "late"})
    assert "completed" in state.send_error
    session.expire_all()
    assert session.get(Conversation, mine).last_seq == 1


async def test_new_conversation_needs_topic_and_message(session):
    _people, _mine, _theirs, token = _setup(session)
    state = make_state(PortalState, token=token, path="/portal")
    await call(state, "load")
    before = _count(session, Conversation)
    base = {"topic": "Hi", "body": "x", "category": "check_in", "reason": "Refill"}
    await call(state, "create", {**base, "topic": ""})
    assert state.new_error == "Enter a topic."
    await call(state, "create", {"topic": "Hi", "body": "x", "reason": "Refill"})
    assert state.new_error == "Choose a category."  # no category sent: no silent default
    await call(state, "create", {**base, "category": "made_up"})
    assert state.new_error == "Choose a valid category."
    await call(state, "create", {**base, "reason": " "})
    assert state.new_error == "Enter a reason: a few words on why you are writing."
    await call(state, "create", {**base, "body": " "})
    assert state.new_error == "Write the first message."
    assert _count(session, Conversation) == before
    events = await call(state, "create", {"topic": "Refill", "body": "Need a refill",
                                          "category": "medication", "reason": "Before my trip"})
    assert redirect_path(events).startswith("/portal?c=")
    assert _count(session, Conversation) == before + 1
