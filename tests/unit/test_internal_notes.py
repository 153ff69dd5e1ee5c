"""Staff-only notes: stored encrypted and bound, read and written by the care team only, never
in what a patient receives (list preview, unread counts, thread, search, emails, events)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import select

from care_messaging.models import AuditEvent, InternalNote, Job
from care_messaging.services import conversation_list, events, internal_notes, message_views
from care_messaging.services import conversations as conv
from care_messaging.services.errors import NotFoundError, ValidationError
from tests.factories import clinic_with_two_threads

NOTE = "Likely med interaction ZEBRA-4411, call pharmacy"


@pytest.fixture
def setup(session):
    return clinic_with_two_threads(session)


def test_team_writes_and_reads_notes_encrypted_and_audited(session, setup):
    p, cid, _ = setup
    internal_notes.add_note(session, actor=p["lee"], conversation_id=cid, body=f"  {NOTE} ")
    session.commit()
    views = internal_notes.list_notes(session, actor=p["patel"], conversation_id=cid)
    session.commit()
    assert [(v.author_name, v.body) for v in views] == [("Dr. Lee", NOTE)]
    raw = session.exec(text("select body_ct from internal_notes")).one()[0]
    assert b"ZEBRA" not in raw
    audit = session.exec(select(AuditEvent).where(
        AuditEvent.action.in_(("internal_note_add", "internal_note_view")))).all()
    assert {a.action for a in audit} == {"internal_note_add", "internal_note_view"}
    assert all("ZEBRA" not in a.detail for a in audit)


def test_a_note_moved_to_another_conversation_does_not_verify(session, setup):
    p, cid, _ = setup
    second, _ = conv.create_conversation(session, actor=p["maria"], patient_id=None,
                                         reason="Test", topic="Second", body="Hi")
    session.commit()
    internal_notes.add_note(session, actor=p["lee"], conversation_id=cid, body=NOTE)
    session.commit()
    note = session.exec(select(InternalNote)).one()
    note.conversation_id = second.id
    session.add(note)
    session.commit()
    [view] = internal_notes.list_notes(session, actor=p["lee"], conversation_id=second.id)
    assert view.body == internal_notes.TAMPERED_NOTE


def test_patient_other_team_and_forged_ids_look_like_not_found(session, setup):
    p, cid, other = setup
    internal_notes.add_note(session, actor=p["lee"], conversation_id=cid, body=NOTE)
    session.commit()
    for actor, conversation_id in [(p["maria"], cid), (p["outsider"], cid), (p["lee"], other),
                                   (p["lee"], 999999), (p["lee"], "1")]:
        with pytest.raises(NotFoundError, match="Conversation not found"):
            internal_notes.list_notes(session, actor=actor, conversation_id=conversation_id)
        session.rollback()  # the denial's row stays: it was written apart
        with pytest.raises(NotFoundError, match="Conversation not found"):
            internal_notes.add_note(session, actor=actor, conversation_id=conversation_id,
                                    body="sneaky")
        session.rollback()
    assert len(session.exec(select(InternalNote)).all()) == 1
    denied = session.exec(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
    assert len(denied) == 10


def test_empty_and_long_notes_are_refused(session, setup):
    p, cid, _ = setup
    for body in ("", "   ", None, "x" * (internal_notes.MAX_NOTE_CHARS + 1)):
        with pytest.raises(ValidationError):
            internal_notes.add_note(session, actor=p["lee"], conversation_id=cid, body=body)
        session.rollback()
    assert session.exec(select(InternalNote)).all() == []


def test_a_note_reaches_nothing_the_patient_sees(session, setup):
    p, cid, _ = setup
    maria = p["maria"]
    seen: list[events.DomainEvent] = []
    consumer = events.on_commit(seen.extend)
    jobs_before = len(session.exec(select(Job)).all())
    unread_before = conversation_list.unread_total(session, actor=maria)
    try:
        internal_notes.add_note(session, actor=p["lee"], conversation_id=cid, body=NOTE)
        assert seen == []  # published when the caller's unit commits, not before
        session.commit()
    finally:
        events.remove(consumer)
    [event] = seen
    assert event.kind == events.Kind.NOTE_ADDED and event.message is None
    assert set(event.user_ids) == {p["lee"].user_id, p["patel"].user_id}  # never the patient
    assert maria.user_id not in event.user_ids
    # No email scheduled, no unread, no preview, no thread row, no search hit.
    assert len(session.exec(select(Job)).all()) == jobs_before
    assert conversation_list.unread_total(session, actor=maria) == unread_before
    [row] = [r for r in conversation_list.list_conversations(session, actor=maria).rows if r.id == cid]
    assert "ZEBRA" not in repr(row)
    assert all("ZEBRA" not in v.body for v in message_views.list_messages(session, conversation_id=cid))
    provider_row = conversation_list.get_row(session, actor=p["patel"], conversation_id=cid)
    assert "ZEBRA" not in provider_row.preview and provider_row.message_count == 1
