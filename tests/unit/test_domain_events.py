"""Domain events are handed on only after the transaction that recorded them commits."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import Session

from care_messaging import db
from care_messaging.models import Conversation
from care_messaging.services import events
from care_messaging.services.conversations import create_conversation, set_status
from care_messaging.services.errors import ValidationError
from care_messaging.services.message_sending import send_message
from care_messaging.services.receipts import mark_delivered, mark_read
from tests.factories import clinic


@pytest.fixture
def published():
    """Every batch the after-commit consumers are handed, in order."""
    seen: list[list[events.DomainEvent]] = []

    def consumer(batch):
        seen.append(list(batch))

    events.on_commit(consumer)
    yield seen
    events.remove(consumer)


def _kinds(batches) -> list[str]:
    return [e.kind for batch in batches for e in batch]


def _conversation(session, people) -> int:
    conversation, _ = create_conversation(
        session, reason="Test follow-up", actor=people["lee"], patient_id=people["maria_patient"].id,
        topic="Lab results", body="Your results are in.")
    session.commit()  # the test is the caller: its unit of work commits
    return conversation.id


def test_rolled_back_event_is_never_published(session, published):
    people = clinic(session)
    cid = _conversation(session, people)
    published.clear()
    events.record(session, events.DomainEvent(kind="probe", conversation_id=cid,
                                              patient_id=1, actor_user_id=1))
    session.execute(text("select 1"))
    session.rollback()
    session.commit()  # a later commit must not find the rolled-back event either
    assert published == []


def test_a_change_that_fails_halfway_publishes_nothing(session, published):
    people = clinic(session)
    with pytest.raises(ValidationError):
        # The conversation (and its event) is written, then the unknown attachment of its
        # first message aborts everything.
        create_conversation(session, reason="Test follow-up", actor=people["maria"], patient_id=None, topic="Rash",
                            body="Photo attached", attachment_ids=(999_999,))
    assert [e.kind for e in events.pending(session)] == ["conversation_created"]
    session.rollback()
    session.commit()
    assert published == []


def test_closed_without_commit_publishes_nothing(db_url, published):
    with Session(db.get_engine()) as s:
        events.record(s, events.DomainEvent(kind="probe", conversation_id=1, patient_id=1,
                                            actor_user_id=1))
        s.execute(text("select 1"))
    with Session(db.get_engine()) as s:
        s.execute(text("select 1"))
        s.commit()
    assert published == []


def test_committed_send_is_published_exactly_once(session, published):
    people = clinic(session)
    cid = _conversation(session, people)
    assert _kinds(published) == ["conversation_created", "message_sent"]
    published.clear()
    result = send_message(session, actor=people["maria"], conversation_id=cid, body="Thanks",
                          client_msg_id="once-1")
    session.commit()  # the caller's commit
    session.commit()  # and a second, empty one: nothing twice
    assert _kinds(published) == ["message_sent"]
    sent = published[0][0]
    assert (sent.conversation_id, sent.seq, sent.actor_user_id) == (
        cid, result.message.seq, people["maria"].user_id)
    assert set(sent.user_ids) == {people["maria"].user_id, people["lee"].user_id,
                                  people["patel"].user_id}
    assert sent.message.body == "Thanks"
    # A repeat of the same client id changes nothing and publishes nothing.
    published.clear()
    send_message(session, actor=people["maria"], conversation_id=cid, body="Thanks",
                 client_msg_id="once-1")
    assert published == []


def test_status_read_and_delivered_are_events(session, published):
    people = clinic(session)
    cid = _conversation(session, people)
    published.clear()
    set_status(session, actor=people["lee"], conversation_id=cid, status="completed")
    session.commit()
    conversation = session.get(Conversation, cid)
    assert mark_delivered(session, user_id=people["maria"].user_id, conversation_id=cid,
                          seq=1, patient_id=conversation.patient_id,
                          notify_user_ids=(people["lee"].user_id,))
    session.commit()
    assert mark_read(session, actor=people["maria"], conversation=conversation)
    session.commit()
    assert not mark_read(session, actor=people["maria"], conversation=conversation)  # no news
    session.commit()
    assert _kinds(published) == ["conversation_changed", "delivered", "read"]
    assert published[1][0].user_ids == (people["lee"].user_id,)


def test_in_transaction_consumer_commits_and_rolls_back_with_the_change(session):
    people = clinic(session)
    cid = _conversation(session, people)
    session.execute(text("create table if not exists probe_rows (kind text)"))
    session.commit()

    def write_row(s, batch):
        for e in batch:
            s.execute(text("insert into probe_rows (kind) values (:k)"), {"k": e.kind})

    events.in_transaction(write_row)
    try:
        send_message(session, actor=people["maria"], conversation_id=cid, body="Kept",
                     client_msg_id="kept-1")
        session.commit()
        with pytest.raises(ValidationError):
            send_message(session, actor=people["maria"], conversation_id=cid, body="Lost",
                         client_msg_id="lost-1", attachment_ids=[999_999])
        session.rollback()
    finally:
        events.remove(write_row)
    rows = session.execute(text("select kind from probe_rows")).scalars().all()
    assert rows == ["message_sent"]


def test_origin_tab_is_carried(session, published):
    people = clinic(session)
    cid = _conversation(session, people)
    published.clear()
    token = events.origin_tab.set("tab-123")
    try:
        send_message(session, actor=people["maria"], conversation_id=cid, body="From a tab",
                     client_msg_id="tab-1")
        session.commit()
    finally:
        events.origin_tab.reset(token)
    assert published[0][0].origin == "tab-123"
