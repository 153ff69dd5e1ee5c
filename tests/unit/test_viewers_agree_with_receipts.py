"""The patient's "Who on your care team viewed this" and the "Read" receipts on their messages
come from the same reads: a provider who read the patient's messages is a viewer, whether or
not an open of the conversation was audited (older history, reads by replying)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from care_messaging.models import ReadState
from care_messaging.presenters.message_status import status_of
from care_messaging.services import audit_log, receipts
from care_messaging.services import conversations as conv
from care_messaging.services import message_sending as sending
from care_messaging.services.access import access_conversation
from tests.factories import clinic
from tests.unit.test_messages import pg_engine  # noqa: F401 - fixture


def _viewers(session, people, cid) -> list[str]:
    return [v.name for v in audit_log.conversation_viewers(session, actor=people["maria"],
                                                            conversation_id=cid)]


def _receipt(session, people, cid) -> str:
    conversation = access_conversation(session, actor=people["maria"], conversation_id=cid)
    return status_of(1, receipts.receipt_for(session, actor=people["maria"],
                                             conversation=conversation))[0]


def test_a_read_without_an_audited_open_is_a_view(session):
    people = clinic(session)
    c, _ = conv.create_conversation(session, actor=people["maria"], patient_id=None,
                                    topic="Knee", reason="Pain", body="It hurts")
    assert _viewers(session, people, c.id) == [] and _receipt(session, people, c.id) == "Sent"
    # Dr. Lee reads it (as the list's read marks do, no open recorded): "Read", and a viewer.
    conversation = access_conversation(session, actor=people["lee"], conversation_id=c.id)
    assert receipts.mark_read(session, actor=people["lee"], conversation=conversation)
    assert _receipt(session, people, c.id).startswith("Read")
    assert _viewers(session, people, c.id) == ["Dr. Lee"]


def test_history_read_before_opens_were_audited_counts(session):
    """Seeded or migrated history: read states, and no open rows in the audit log."""
    people = clinic(session)
    c, _ = conv.create_conversation(session, actor=people["maria"], patient_id=None,
                                    topic="Knee", reason="Pain", body="It hurts")
    read_at = datetime.now(UTC) - timedelta(days=3)
    session.add(ReadState(user_id=people["patel"].user_id, conversation_id=c.id,
                          last_read_seq=1, last_delivered_seq=1, read_at=read_at,
                          delivered_at=read_at))
    # Delivered to Dr. Lee but not read: not a view (and the receipt agrees it was not read).
    session.add(ReadState(user_id=people["lee"].user_id, conversation_id=c.id,
                          last_read_seq=0, last_delivered_seq=1, delivered_at=read_at))
    session.commit()
    assert _receipt(session, people, c.id).startswith("Read")
    viewers = audit_log.conversation_viewers(session, actor=people["maria"], conversation_id=c.id)
    assert [v.name for v in viewers] == ["Dr. Patel"]
    assert abs((viewers[0].at - read_at).total_seconds()) < 1


def test_one_line_per_provider_with_the_latest_view(session):
    people = clinic(session)
    c, _ = conv.create_conversation(session, actor=people["maria"], patient_id=None,
                                    topic="Knee", reason="Pain", body="It hurts")
    for _ in range(3):
        audit_log.record_conversation_open(
            session, actor=people["lee"],
            conversation=access_conversation(session, actor=people["lee"], conversation_id=c.id))
    # Dr. Patel answers (replying reads everything before): a viewer, the latest one.
    sending.send_message(session, actor=people["patel"], conversation_id=c.id, body="Rest it",
                         client_msg_id="patel-1")
    assert _viewers(session, people, c.id) == ["Dr. Patel", "Dr. Lee"]
    assert _receipt(session, people, c.id).startswith("Read")


def _statements_of_viewers(engine, session, people, cid) -> tuple[list[str], list[str]]:
    """The statements one "who viewed this" read sends, and the names it gives."""
    from sqlalchemy import event

    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        names = _viewers(session, people, cid)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent, names


def _opened_read_and_delivered(session, people):
    """Dr. Lee opened it (audited) and Dr. Patel read it by replying: one viewer of each kind."""
    c, _ = conv.create_conversation(session, actor=people["maria"], patient_id=None,
                                    topic="Knee", reason="Pain", body="It hurts")
    audit_log.record_conversation_open(
        session, actor=people["lee"],
        conversation=access_conversation(session, actor=people["lee"], conversation_id=c.id))
    sending.send_message(session, actor=people["patel"], conversation_id=c.id, body="Rest it",
                         client_msg_id="patel-1")
    session.commit()
    return c.id


def test_viewers_are_one_statement(session):
    """Live refreshes of an open chat ask this every time: the opens, the reads and the names
    come in one statement (three before), with the same answer."""
    from care_messaging import db

    people = clinic(session)
    cid = _opened_read_and_delivered(session, people)
    session.expire_all()  # the access check reads its conversation again, as a new session does
    sent, names = _statements_of_viewers(db.get_engine(), session, people, cid)
    assert names == ["Dr. Patel", "Dr. Lee"]
    assert len([s for s in sent if "audit_events" in s or "read_states" in s]) == 1, sent


def test_viewers_on_postgresql(pg_engine):  # noqa: F811
    from sqlmodel import Session

    with Session(pg_engine, expire_on_commit=False) as session:
        people = clinic(session)
        cid = _opened_read_and_delivered(session, people)
        session.expire_all()
        sent, names = _statements_of_viewers(pg_engine, session, people, cid)
    assert names == ["Dr. Patel", "Dr. Lee"]
    assert len([s for s in sent if "audit_events" in s or "read_states" in s]) == 1, sent
