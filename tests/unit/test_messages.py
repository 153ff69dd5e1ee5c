"""Exactly-once sends and gap-free per-conversation order, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from care_messaging import db
from care_messaging.models import AuditEvent, Conversation, Message, ReadState
from care_messaging.services.conversations import create_conversation, set_status
from care_messaging.services.errors import NotFoundError, ValidationError
from care_messaging.services.message_sending import send_message
from care_messaging.services.message_views import list_messages
from tests.factories import clinic

PG_URL = os.environ.get("CARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _conversation(session, people):
    conversation, _ = create_conversation(
        session, actor=people["lee"], patient_id=people["maria_patient"].id,
        reason="Test", topic="Lab results", body="Your results are in.",
    )
    session.commit()
    return conversation.id


def _count(session, **where) -> int:
    query = select(func.count()).select_from(Message)
    for key, value in where.items():
        query = query.where(getattr(Message, key) == value)
    return session.exec(query).one()


def test_same_client_id_twice_stores_one_message(session):
    people = clinic(session)
    cid = _conversation(session, people)
    first = send_message(session, actor=people["maria"], conversation_id=cid, body="Thanks",
                         client_msg_id="abc-1")
    session.commit()
    again = send_message(session, actor=people["maria"], conversation_id=cid, body="Thanks",
                         client_msg_id="abc-1")
    session.commit()
    assert first.created and not again.created
    assert first.message.id == again.message.id
    assert _count(session, conversation_id=cid) == 2  # the opening message + one reply
    sends = session.exec(select(AuditEvent).where(AuditEvent.action == "message_send")).all()
    assert len(sends) == 2


def test_a_client_id_reused_in_another_conversation_is_refused_and_nothing_moves(session):
    people = clinic(session)
    first_cid = _conversation(session, people)
    other, _ = create_conversation(session, actor=people["maria"], patient_id=None,
                                   reason="Test", topic="Billing", body="A question")
    session.commit()
    send_message(session, actor=people["maria"], conversation_id=first_cid, body="Thanks",
                 client_msg_id="same-id")
    session.commit()
    with pytest.raises(ValidationError, match="Invalid message id"):
        send_message(session, actor=people["maria"], conversation_id=other.id, body="Hi",
                     client_msg_id="same-id")
        session.commit()
    session.expire_all()
    assert _count(session, conversation_id=other.id) == 1
    assert session.get(Conversation, other.id).last_seq == 1  # the refused try left no gap


def test_a_repeat_after_the_conversation_was_completed_returns_the_stored_message(session):
    people = clinic(session)
    cid = _conversation(session, people)
    sent = send_message(session, actor=people["maria"], conversation_id=cid, body="Thanks",
                        client_msg_id="late-retry")
    session.commit()
    set_status(session, actor=people["lee"], conversation_id=cid, status="completed")
    session.commit()
    again = send_message(session, actor=people["maria"], conversation_id=cid, body="Thanks",
                         client_msg_id="late-retry")
    session.commit()
    assert not again.created and again.message.id == sent.message.id
    with pytest.raises(ValidationError, match="completed"):
        send_message(session, actor=people["maria"], conversation_id=cid, body="New",
                     client_msg_id="new-one")
        session.commit()


def test_the_senders_own_read_mark_moves_to_each_message_sent(session):
    people = clinic(session)
    cid = _conversation(session, people)
    for n in range(2, 5):
        send_message(session, actor=people["maria"], conversation_id=cid, body=f"m{n}",
                     client_msg_id=f"r{n}")
        session.commit()
        session.expire_all()
        state = session.get(ReadState, (people["maria"].user_id, cid))
        assert (state.last_read_seq, state.last_delivered_seq) == (n, n)
        assert state.read_at is not None


def test_sender_cannot_see_or_post_outside_care_team(session):
    people = clinic(session)
    cid = _conversation(session, people)
    with pytest.raises(NotFoundError):
        send_message(session, actor=people["outsider"], conversation_id=cid, body="hi",
                     client_msg_id="x")
        session.commit()
    with pytest.raises(NotFoundError):
        send_message(session, actor=people["james"], conversation_id=cid, body="hi",
                     client_msg_id="y")
        session.commit()
    assert _count(session, conversation_id=cid) == 1
    denied = session.exec(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
    assert len(denied) == 2


def test_empty_and_oversized_bodies_are_refused(session):
    people = clinic(session)
    cid = _conversation(session, people)
    with pytest.raises(ValidationError):
        send_message(session, actor=people["maria"], conversation_id=cid, body="   ",
                     client_msg_id="e1")
        session.commit()
    with pytest.raises(ValidationError):
        send_message(session, actor=people["maria"], conversation_id=cid, body="x" * 5001,
                     client_msg_id="e2")
        session.commit()
    assert _count(session, conversation_id=cid) == 1


def test_list_messages_pages_in_server_order(session):
    people = clinic(session)
    cid = _conversation(session, people)
    for i in range(9):
        send_message(session, actor=people["maria" if i % 2 else "lee"], conversation_id=cid,
                     body=f"m{i}", client_msg_id=f"p{i}")
        session.commit()
    latest = list_messages(session, conversation_id=cid, limit=4)
    session.commit()
    assert [m.seq for m in latest] == [7, 8, 9, 10]
    older = list_messages(session, conversation_id=cid, before_seq=7, limit=4)
    session.commit()
    assert [m.seq for m in older] == [3, 4, 5, 6]
    newer = list_messages(session, conversation_id=cid, after_seq=8)
    session.commit()
    assert [m.body for m in newer] == ["m7", "m8"]


def _concurrent_sends(engine, people, cid, *, senders: int, per_sender: int, duplicate: bool):
    """Threads with their own sessions; with duplicate=True they all reuse one client id."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(senders)

    def worker(n: int) -> None:
        actor = people["maria"] if n % 2 else people["lee"]
        if duplicate:
            actor = people["maria"]
        barrier.wait()
        for k in range(per_sender):
            client_id = "same-id" if duplicate else f"t{n}-{k}-{uuid.uuid4().hex[:6]}"
            try:
                with Session(engine, expire_on_commit=False) as s:
                    send_message(s, actor=actor, conversation_id=cid, body=f"{n}/{k}",
                                 client_msg_id=client_id)
                    s.commit()
            except BaseException as exc:  # surfaced below
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def _assert_gap_free(session, cid):
    seqs = session.exec(select(Message.seq).where(Message.conversation_id == cid)
                        .order_by(Message.seq)).all()
    assert seqs == list(range(1, len(seqs) + 1))
    return seqs


def test_concurrent_duplicate_client_id_stores_one_message_sqlite(session):
    people = clinic(session)
    cid = _conversation(session, people)
    _concurrent_sends(db.get_engine(), people, cid, senders=6, per_sender=1, duplicate=True)
    assert _count(session, conversation_id=cid, client_msg_id="same-id") == 1
    _assert_gap_free(session, cid)


def test_concurrent_senders_get_gap_free_sequence_sqlite(session):
    people = clinic(session)
    cid = _conversation(session, people)
    _concurrent_sends(db.get_engine(), people, cid, senders=6, per_sender=10, duplicate=False)
    assert len(_assert_gap_free(session, cid)) == 61


@pytest.fixture
def pg_engine(monkeypatch):
    """A fresh PostgreSQL database, migrated to head; skipped (with the reason) without a server."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}".splitlines()[0])
    name = f"care_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    from care_messaging.cli import migrate
    from tests.conftest import reset_caches

    migrate(url)
    monkeypatch.setenv("DATABASE_URL", url)
    reset_caches()
    engine = db.get_engine()
    yield engine
    engine.dispose()
    reset_caches()
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def test_concurrency_on_postgresql(pg_engine):
    with Session(pg_engine, expire_on_commit=False) as session:
        assert session.exec(text("select 1")).one()[0] == 1
        people = clinic(session)
        cid = _conversation(session, people)
    _concurrent_sends(pg_engine, people, cid, senders=8, per_sender=8, duplicate=False)
    _concurrent_sends(pg_engine, people, cid, senders=8, per_sender=1, duplicate=True)
    with Session(pg_engine) as session:
        seqs = _assert_gap_free(session, cid)
        assert len(seqs) == 1 + 64 + 1
        assert _count(session, conversation_id=cid, client_msg_id="same-id") == 1


def test_delivered_marks_only_move_forward(session):
    from care_messaging.services.receipts import mark_delivered

    people = clinic(session)
    cid = _conversation(session, people)
    patel = people["patel"].user_id  # on the care team, no read state yet
    assert mark_delivered(session, user_id=patel, conversation_id=cid, seq=1)
    assert not mark_delivered(session, user_id=patel, conversation_id=cid, seq=1)
    assert mark_delivered(session, user_id=patel, conversation_id=cid, seq=3)
    assert not mark_delivered(session, user_id=patel, conversation_id=cid, seq=2)
    session.expire_all()
    state = session.get(ReadState, (patel, cid))
    assert state.last_delivered_seq == 3 and state.last_read_seq == 0


def test_two_ids_in_the_same_millisecond_are_two_messages(session, monkeypatch):
    """The browser's outbox makes one random id per message: two messages typed in the same
    millisecond with the same text are still two messages."""
    import datetime as dt

    from care_messaging.services import message_sending

    people = clinic(session)
    cid = _conversation(session, people)
    instant = dt.datetime(2026, 11, 30, 12, 0, 0, 123000, tzinfo=dt.UTC)

    monkeypatch.setattr(message_sending, "utcnow", lambda: instant)
    first, second = (send_message(session, actor=people["maria"], conversation_id=cid,
                                  body="Yes", client_msg_id=str(uuid.uuid4())) for _ in range(2))
    session.commit()
    assert first.created and second.created
    assert first.message.id != second.message.id
    assert (first.message.seq, second.message.seq) == (2, 3)


def test_an_outbox_resent_after_a_crash_keeps_the_typed_order(session):
    """The server stored the first of three messages and died before answering: the outbox
    sends all three again, in the order typed. The first is answered with what was stored,
    the others follow it; nothing doubles and nothing reorders."""
    people = clinic(session)
    cid = _conversation(session, people)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    stored_before_crash = send_message(session, actor=people["maria"], conversation_id=cid,
                                       body="one", client_msg_id=ids[0])
    session.commit()
    results = [send_message(session, actor=people["maria"], conversation_id=cid, body=body,
                            client_msg_id=client_id)
               for body, client_id in zip(["one", "two", "three"], ids, strict=True)]
    session.commit()
    assert [r.created for r in results] == [False, True, True]
    assert results[0].message.id == stored_before_crash.message.id
    assert [r.message.seq for r in results] == [2, 3, 4]
    assert [v.body for v in list_messages(session, conversation_id=cid)] == [
        "Your results are in.", "one", "two", "three"]
