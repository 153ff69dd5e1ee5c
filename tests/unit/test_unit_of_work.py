"""One transaction owner: services never commit; the caller's unit of work does, once.

A refusal's audit row is written apart from the caller's transaction, so it survives the
rollback that follows the refusal and never commits what the caller held.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from care_messaging import db
from care_messaging.models import AuditEvent, Conversation, Message
from care_messaging.services import events
from care_messaging.services.access import access_conversation
from care_messaging.services.audit import Outcome
from care_messaging.services.conversations import create_conversation
from care_messaging.services.errors import NotFoundError
from care_messaging.services.message_sending import send_message
from tests.factories import clinic


def _conversation(session, people) -> int:
    conversation, _ = create_conversation(
        session, reason="Test follow-up", actor=people["lee"],
        patient_id=people["maria_patient"].id, topic="Lab results", body="Your results are in.")
    session.commit()
    return conversation.id


def _denials(conversation_id: int) -> int:
    with Session(db.get_engine()) as fresh:
        return len(fresh.exec(select(AuditEvent).where(
            AuditEvent.outcome == Outcome.DENIED,
            AuditEvent.object_id == str(conversation_id))).all())


def _topic(conversation_id: int) -> str:
    with Session(db.get_engine()) as fresh:
        return fresh.get(Conversation, conversation_id).topic


@pytest.mark.parametrize("flushed", [False, True], ids=["pending", "flushed"])
def test_a_denial_does_not_commit_the_callers_pending_changes(session, flushed):
    people = clinic(session)
    cid = _conversation(session, people)
    conversation = session.get(Conversation, cid)
    conversation.topic = "Changed by the caller, never committed"
    session.add(conversation)
    if flushed:  # on SQLite the caller now holds the one write lock
        session.flush()
    with pytest.raises(NotFoundError):
        access_conversation(session, actor=people["outsider"], conversation_id=cid)
    session.rollback()  # what the caller's unit of work does on the error
    assert _topic(cid) == "Lab results"
    assert _denials(cid) == 1


def test_a_denial_is_recorded_even_when_the_caller_commits_afterwards(session):
    people = clinic(session)
    cid = _conversation(session, people)
    with pytest.raises(NotFoundError):
        access_conversation(session, actor=people["outsider"], conversation_id=cid)
    session.commit()
    assert _denials(cid) == 1


def test_a_send_is_stored_and_published_only_when_the_caller_commits(session):
    people = clinic(session)
    cid = _conversation(session, people)
    seen: list[str] = []

    def consumer(batch):
        seen.extend(e.kind for e in batch)

    events.on_commit(consumer)
    try:
        send_message(session, actor=people["maria"], conversation_id=cid, body="Thank you",
                     client_msg_id="uow-1")
        assert seen == []  # the service did not commit
        session.rollback()
        with Session(db.get_engine()) as fresh:
            assert fresh.exec(select(Message).where(Message.client_msg_id == "uow-1")).first() is None
        send_message(session, actor=people["maria"], conversation_id=cid, body="Thank you",
                     client_msg_id="uow-2")
        session.commit()
        assert seen == [events.Kind.MESSAGE_SENT]
    finally:
        events.remove(consumer)


def test_session_scope_is_the_only_commit_and_rolls_back_on_error(db_url):
    with db.session_scope() as session:
        people = clinic(session)
        cid = _conversation(session, people)
    with pytest.raises(RuntimeError), db.session_scope() as session:
        send_message(session, actor=people["maria"], conversation_id=cid, body="lost",
                     client_msg_id="uow-lost")
        raise RuntimeError("the handler failed after the service")
    with db.session_scope() as session:
        send_message(session, actor=people["maria"], conversation_id=cid, body="kept",
                     client_msg_id="uow-kept")
    with Session(db.get_engine()) as fresh:
        ids = {m.client_msg_id for m in fresh.exec(select(Message)).all()}
    assert "uow-kept" in ids and "uow-lost" not in ids


def test_no_service_commits():
    from pathlib import Path

    services = Path(db.__file__).parent / "services"
    offenders = [p.name for p in services.glob("*.py") if "session.commit()" in p.read_text()]
    assert offenders == []
