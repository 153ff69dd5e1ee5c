"""A send's writes that nobody reads back travel as one batch on PostgreSQL
(``hot_sql.batched``, psycopg's pipeline mode): fewer waits for the server per message, the
same rows written, and an error in the batch undoes the whole send. Against the real
PostgreSQL on 127.0.0.1."""

from __future__ import annotations

import contextlib
import tempfile
import uuid

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, func, select, text

from care_messaging.models import AuditEvent, Conversation, Message, ReadState
from care_messaging.services import audit, hot_sql, message_sending
from care_messaging.services.errors import NotFoundError
from care_messaging.services.message_sending import send_message
from tests.factories import clinic
from tests.unit.test_messages import _conversation, pg_engine  # noqa: F401 - fixture


def _round_trips_of_one_send(engine, people, cid, sender: str = "maria") -> int:
    """Round trips of one send and its commit, read off the wire: libpq's protocol trace
    shows one ReadyForQuery per exchange (a simple query, or a Sync ending a batch)."""
    with tempfile.TemporaryFile() as trace, Session(engine, expire_on_commit=False) as session:
        pgconn = session.connection().connection.driver_connection.pgconn
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        send_message(session, actor=people[sender], conversation_id=cid,
                     body="How long should I fast before the test?",
                     client_msg_id=uuid.uuid4().hex)
        session.commit()
        pgconn.untrace()
        trace.seek(0)
        return sum(1 for line in trace.read().decode().splitlines()
                   if line.startswith("B") and "ReadyForQuery" in line)


def test_a_send_costs_six_round_trips_fewer(pg_engine, monkeypatch):  # noqa: F811
    with Session(pg_engine, expire_on_commit=False) as session:
        people = clinic(session)
        session.commit()
        cid = _conversation(session, people)
    _round_trips_of_one_send(pg_engine, people, cid)  # the pool warm, statements prepared
    batched = _round_trips_of_one_send(pg_engine, people, cid)
    monkeypatch.setattr(message_sending, "batched", lambda _session: contextlib.nullcontext())
    one_by_one = _round_trips_of_one_send(pg_engine, people, cid)
    # Seven writes in one exchange instead of seven (the message and its number among them).
    assert one_by_one - batched == 6, (batched, one_by_one)
    with Session(pg_engine) as session:  # what the batch wrote is there
        sent = session.exec(select(Message).where(Message.conversation_id == cid)
                            .order_by(Message.seq.desc())).first()  # type: ignore[attr-defined]
        assert session.get(ReadState, (people["maria"].user_id, cid)).last_read_seq == sent.seq
        assert session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "message_send", AuditEvent.object_id == str(sent.id))).one() == 1


def test_a_send_is_four_round_trips(pg_engine):  # noqa: F811
    """BEGIN; the send's read (the conversation row locked, the message's id taken, the
    triage state), the participants and, for a provider, the care-team check, in one
    exchange (hot_sql.together); every write in one batch; COMMIT. Before: the sequence
    number and the insert each an exchange of their own (six), and a provider's care-team
    check another (seven)."""
    with Session(pg_engine, expire_on_commit=False) as session:
        people = clinic(session)
        session.commit()
        cid = _conversation(session, people)
    _round_trips_of_one_send(pg_engine, people, cid)
    assert _round_trips_of_one_send(pg_engine, people, cid) == 4
    with Session(pg_engine) as session:  # the patient waits for an answer
        assert session.get(Conversation, cid).reply_by_at is not None
    # Lee's reply clears the reply-by time (a fifth exchange: triage's write) ...
    assert _round_trips_of_one_send(pg_engine, people, cid, sender="lee") == 5
    with Session(pg_engine) as session:
        assert session.get(Conversation, cid).reply_by_at is None
    # ... and the next has nothing to clear: the send's read told triage so.
    assert _round_trips_of_one_send(pg_engine, people, cid, sender="lee") == 4
    with Session(pg_engine) as session:  # the numbers, the latest message and the ids agree
        conversation = session.get(Conversation, cid)
        rows = session.exec(select(Message).where(Message.conversation_id == cid)
                            .order_by(Message.seq)).all()  # type: ignore[arg-type]
        assert [m.seq for m in rows] == list(range(1, len(rows) + 1)) and len(rows) == 5
        assert conversation.last_seq == 5 and conversation.last_message_id == rows[-1].id
        assert conversation.last_message_at == rows[-1].created_at


def test_a_provider_off_the_care_team_is_refused_on_postgresql(pg_engine):  # noqa: F811
    """The care-team check now travels with the send's read: a provider not on the patient's
    care team gets not-found, the refusal is audited, and nothing is written."""
    with Session(pg_engine, expire_on_commit=False) as session:
        people = clinic(session)
        session.commit()
        cid = _conversation(session, people)
    with Session(pg_engine) as session, pytest.raises(NotFoundError):
        send_message(session, actor=people["outsider"], conversation_id=cid, body="Hello",
                     client_msg_id=uuid.uuid4().hex)
    with Session(pg_engine) as session:
        assert session.get(Conversation, cid).last_seq == 1
        assert session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.actor_user_id == people["outsider"].user_id,
            AuditEvent.outcome == "denied")).one() == 1


def test_the_send_holds_the_conversation_until_it_commits(pg_engine):  # noqa: F811
    """The number is the read one plus one: that is gap-free only because the read locks
    the row. A second transaction cannot lock it while a send is open."""
    with Session(pg_engine, expire_on_commit=False) as session:
        people = clinic(session)
        session.commit()
        cid = _conversation(session, people)
    with Session(pg_engine) as sending:
        send_message(sending, actor=people["maria"], conversation_id=cid, body="Open",
                     client_msg_id=uuid.uuid4().hex)
        with Session(pg_engine) as other:
            other.exec(text("SET LOCAL lock_timeout = '200ms'"))
            with pytest.raises(DBAPIError, match="lock timeout"):
                other.exec(text("SELECT 1 FROM conversations WHERE id = :id FOR UPDATE")
                           .bindparams(id=cid))
        sending.commit()


def test_an_error_in_the_batch_undoes_the_whole_send(pg_engine, monkeypatch):  # noqa: F811
    with Session(pg_engine, expire_on_commit=False) as session:
        people = clinic(session)
        session.commit()
        cid = _conversation(session, people)
        before = session.exec(select(func.count()).select_from(Message)).one()

    def broken_audit(session, **_kwargs):  # a statement the server refuses, inside the batch
        hot_sql.HotStatement(select(func.sqrt(-1))).execute(session)

    monkeypatch.setattr(audit, "record", broken_audit)
    with Session(pg_engine) as session, pytest.raises(DBAPIError):
        send_message(session, actor=people["maria"], conversation_id=cid, body="Lost?",
                     client_msg_id=uuid.uuid4().hex)
        session.commit()
    with Session(pg_engine) as session:
        assert session.exec(select(func.count()).select_from(Message)).one() == before


def test_a_send_with_a_file_and_a_repeat_on_postgresql(pg_engine):  # noqa: F811
    """The batched send on PostgreSQL: a file attaches to the message whose id the read took
    (after the batch), a foreign attachment undoes everything, and the same client id sent
    again (its INSERT fails inside the batch) answers with the stored message."""
    from care_messaging.models import Attachment
    from care_messaging.services import attachments
    from care_messaging.services.errors import ValidationError
    from tests.fixtures import files

    with Session(pg_engine, expire_on_commit=False) as session:
        people = clinic(session)
        session.commit()
        cid = _conversation(session, people)
        stored = attachments.store_upload(session, actor=people["maria"], conversation_id=cid,
                                          filename="rash.png", data=files.png())
        foreign = attachments.store_upload(session, actor=people["lee"], conversation_id=cid,
                                           filename="labs.pdf", data=files.pdf())
        session.commit()
    with Session(pg_engine) as session, pytest.raises(ValidationError):
        send_message(session, actor=people["maria"], conversation_id=cid, body="Mine?",
                     client_msg_id="not-mine", attachment_ids=[foreign.id])
    with Session(pg_engine) as session:
        assert session.get(Conversation, cid).last_seq == 1  # nothing of it was kept
    with Session(pg_engine, expire_on_commit=False) as session:
        sent = send_message(session, actor=people["maria"], conversation_id=cid, body="Photo",
                            client_msg_id="with-file", attachment_ids=[stored.id])
        session.commit()
    assert sent.created and [a.id for a in sent.message.attachments] == [stored.id]
    with Session(pg_engine, expire_on_commit=False) as session:
        again = send_message(session, actor=people["maria"], conversation_id=cid, body="Photo",
                             client_msg_id="with-file", attachment_ids=[stored.id])
        session.commit()
    assert not again.created and again.message.id == sent.message.id
    with Session(pg_engine) as session:
        assert session.get(Attachment, stored.id).message_id == sent.message.id
        conversation = session.get(Conversation, cid)
        assert conversation.last_seq == 2 and conversation.last_message_id == sent.message.id
