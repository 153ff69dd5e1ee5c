"""With a database server (PostgreSQL: every statement a network round trip), no handler and
no live delivery step takes a database connection on the event loop's thread: the guard's
session check and the handler bodies run in offloop's bounded pool (``@guarded`` puts plain
bodies there; async ones put their own database work there). On PostgreSQL the usual session
check is awaited on the loop with psycopg's async API instead, which never blocks it
(tests/unit/test_session_on_loop.py); here, on SQLite, it takes the pool's path.

Run here against SQLite with ``offloop.db_inline`` answering as it does for PostgreSQL, and
every connection checkout of the engine recorded with its thread. The features added after
the loop work (assignment, notes, quick replies, retract/correct, drafts, triage, clinic
leads, clinic settings) are walked like the rest.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event

from care_messaging import db, realtime
from care_messaging.pages.account import AccountState
from care_messaging.pages.admin import AdminState
from care_messaging.pages.dashboard import DashboardState
from care_messaging.pages.portal import PortalState
from care_messaging.pages.response_times import ResponseTimesState
from care_messaging.services import conversations as conv
from care_messaging.services.message_sending import send_message
from care_messaging.web import offloop
from tests.factories import PASSWORD, clinic, make_admin
from tests.state.helpers import call, deliver, make_state, sign_in_token


async def _no_registry(**_) -> None:
    return None


class Checkouts:
    """Threads that took a database connection while recording."""

    def __init__(self) -> None:
        self.on: bool = False
        self.threads: list[int] = []

    def __call__(self, *_args) -> None:
        if self.on:
            self.threads.append(threading.get_ident())


@pytest.fixture
def server_database(session, monkeypatch):
    monkeypatch.setattr(offloop, "db_inline", lambda: False)
    monkeypatch.setattr(realtime, "register", _no_registry)
    checkouts = Checkouts()
    event.listen(db.get_engine(), "checkout", checkouts)
    yield checkouts
    event.remove(db.get_engine(), "checkout", checkouts)


async def test_no_handler_or_live_step_takes_a_connection_on_the_loop(session, server_database):
    p = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=p["maria"], patient_id=None, reason="Test", topic="Refill please",
        body="Out of pills")
    cid = conversation.id
    lee_token = sign_in_token(session, p["lee"].email, PASSWORD)
    maria_token = sign_in_token(session, p["maria"].email, PASSWORD)
    lee = make_state(DashboardState, token=lee_token, path="/dashboard", query=f"c={cid}")
    maria = make_state(PortalState, token=maria_token, path="/portal", query=f"c={cid}")
    replies = make_state(AccountState, token=lee_token, path="/account")
    leads = make_state(ResponseTimesState, token=lee_token, path="/response-times")
    session.commit()
    loop_thread = threading.get_ident()
    server_database.on = True

    await call(lee, "load")
    await call(maria, "load")
    await call(lee, "open_conversation", cid)
    await call(lee, "set_filter", "all")
    await call(lee, "set_search", "refill")
    await call(lee, "set_priority", "urgent")  # triage
    await call(lee, "take_conversation")  # assignment
    await call(lee, "add_note", {"note": "Staff only: check the interaction"})
    await call(lee, "save_draft", {"conversation_id": str(cid), "body": "Half a reply"})
    await call(lee, "send_reply", {"body": "Refill sent.", "client_msg_id": "off-loop-1",
                                   "conversation_id": str(cid)})
    sent = lee.recent[-1] if lee.recent else lee.messages[-1]
    await call(lee, "start_correct", sent["id"])
    await call(lee, "correct", {"message_id": sent["id"], "body": "Refill sent today."})
    await call(lee, "open_history", sent["id"])
    await call(lee, "retract", sent["id"])
    await call(lee, "load_more")
    await call(lee, "load_older")
    await call(lee, "typing", "x")
    await call(replies, "load_quick_replies")
    await call(replies, "save_quick_reply", {"title": "Refill", "body": "Your refill is sent."})
    await call(leads, "load")
    await call(maria, "set_new_open", True)
    await call(maria, "create", {"topic": "Another", "body": "A question",
                                 "reason": "Test", "client_msg_id": "off-loop-2"})

    # Live delivery: a message from Maria reaches Lee's open thread, then the follow-up.
    server_database.on = False
    result = send_message(session, actor=p["maria"], conversation_id=cid, body="Thanks!",
                          client_msg_id="off-loop-3")
    session.commit()  # the caller's unit of work, before the tabs read it
    server_database.on = True
    await deliver(lee, realtime.LiveEvent(
        kind=realtime.LiveKind.MESSAGE, conversation_id=cid, patient_id=result.patient_id,
        actor_user_id=p["maria"].user_id, seq=result.message.seq, message=result.message))
    await deliver(lee, realtime.LiveEvent(kind=realtime.LiveKind.NOTE, conversation_id=cid,
                                          patient_id=result.patient_id))
    await deliver(maria, realtime.LiveEvent(
        kind=realtime.LiveKind.MESSAGE_CHANGED, conversation_id=cid,
        patient_id=result.patient_id, actor_user_id=p["lee"].user_id, seq=1,
        message=result.message))
    server_database.on = False

    assert server_database.threads, "nothing was recorded: the walk above did not run"
    assert loop_thread not in server_database.threads
    # The walk did what it says (a few of its effects).
    assert lee.handling_label == "You are handling this"
    assert any("Thanks!" in row.get("body", "") for row in [*lee.messages, *lee.recent])


async def test_the_admin_pages_too(session, server_database):
    people = clinic(session)
    admin = make_admin(session)
    state = make_state(AdminState, token=sign_in_token(session, admin.email, PASSWORD),
                       path="/admin")
    loop_thread = threading.get_ident()
    server_database.on = True
    await call(state, "load")
    await call(state, "apply_filters", {"action": ""})
    await call(state, "export")
    await call(state, "set_lead", str(people["lee"].user_id), True)  # clinic leads
    await call(state, "set_active", str(people["outsider"].user_id), False)
    server_database.on = False
    assert server_database.threads and loop_thread not in server_database.threads
    assert state.notice.startswith("Account disabled")
