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
from sqlmodel import Session, func, select

from care_messaging.models import AuditEvent, Message, ReadState
from care_messaging.services import audit, hot_sql, message_sending
from care_messaging.services.message_sending import send_message
from tests.factories import clinic
from tests.unit.test_messages import _conversation, pg_engine  # noqa: F401 - fixture


def _round_trips_of_one_send(engine, people, cid) -> int:
    """Round trips of one send and its commit, read off the wire: libpq's protocol trace
    shows one ReadyForQuery per exchange (a simple query, or a Sync ending a batch)."""
    with tempfile.TemporaryFile() as trace, Session(engine, expire_on_commit=False) as session:
        pgconn = session.connection().connection.driver_connection.pgconn
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        send_message(session, actor=people["maria"], conversation_id=cid,
                     body="How long should I fast before the test?",
                     client_msg_id=uuid.uuid4().hex)
        session.commit()
        pgconn.untrace()
        trace.seek(0)
        return sum(1 for line in trace.read().decode().splitlines()
                   if line.startswith("B") and "ReadyForQuery" in line)


def test_a_send_costs_five_round_trips_fewer(pg_engine, monkeypatch):  # noqa: F811
    with Session(pg_engine, expire_on_commit=False) as session:
        people = clinic(session)
        session.commit()
        cid = _conversation(session, people)
    _round_trips_of_one_send(pg_engine, people, cid)  # the pool warm, statements prepared
    batched = _round_trips_of_one_send(pg_engine, people, cid)
    monkeypatch.setattr(message_sending, "batched", lambda _session: contextlib.nullcontext())
    one_by_one = _round_trips_of_one_send(pg_engine, people, cid)
    # Six writes in one exchange instead of six.
    assert one_by_one - batched == 5, (batched, one_by_one)
    with Session(pg_engine) as session:  # what the batch wrote is there
        sent = session.exec(select(Message).where(Message.conversation_id == cid)
                            .order_by(Message.seq.desc())).first()  # type: ignore[attr-defined]
        assert session.get(ReadState, (people["maria"].user_id, cid)).last_read_seq == sent.seq
        assert session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "message_send", AuditEvent.object_id == str(sent.id))).one() == 1


def test_a_patients_send_is_six_round_trips(pg_engine):  # noqa: F811
    """BEGIN; the access check with the participants (one exchange: hot_sql.together); the
    sequence number, which brings the triage state back with it (hot_sql.note); the insert;
    the batch; COMMIT. The participants or the triage state read on their own, as before,
    make seven each, eight both."""
    with Session(pg_engine, expire_on_commit=False) as session:
        people = clinic(session)
        session.commit()
        cid = _conversation(session, people)
    _round_trips_of_one_send(pg_engine, people, cid)
    assert _round_trips_of_one_send(pg_engine, people, cid) == 6


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
