"""Status and priority changes: care team only, validated, audited."""

from __future__ import annotations

import pytest
from sqlmodel import select

from care_messaging.models import AuditEvent, Conversation
from care_messaging.services.conversations import create_conversation, set_priority, set_status
from care_messaging.services.errors import NotFoundError, ValidationError
from tests.factories import clinic


@pytest.fixture
def people_and_conversation(session):
    people = clinic(session)
    conversation, _ = create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Rash", body="It itches."
    )
    return people, conversation.id


def test_provider_on_team_changes_status_and_priority(session, people_and_conversation):
    people, cid = people_and_conversation
    set_status(session, actor=people["patel"], conversation_id=cid, status="needs_attention")
    set_priority(session, actor=people["lee"], conversation_id=cid, priority="urgent")
    row = session.get(Conversation, cid)
    session.refresh(row)
    assert (row.status, row.priority) == ("needs_attention", "urgent")
    details = session.exec(select(AuditEvent.detail).where(
        AuditEvent.action.in_(["status_change", "priority_change"]))).all()
    assert details == ["active -> needs_attention", "routine -> urgent"]


def test_patient_cannot_and_outsider_sees_nothing(session, people_and_conversation):
    people, cid = people_and_conversation
    with pytest.raises(ValidationError):
        set_status(session, actor=people["maria"], conversation_id=cid, status="completed")
    with pytest.raises(NotFoundError):
        set_priority(session, actor=people["outsider"], conversation_id=cid, priority="high")
    with pytest.raises(ValidationError):
        set_status(session, actor=people["lee"], conversation_id=cid, status="archived")
    assert session.get(Conversation, cid).status == "active"


def test_patient_started_conversation_is_scoped_to_the_patient(session, people_and_conversation):
    people, cid = people_and_conversation
    row = session.get(Conversation, cid)
    assert row.patient_id == people["maria_patient"].id
    # A patient cannot start a conversation for someone else: the id is ignored.
    other, _ = create_conversation(session, actor=people["maria"],
                                   patient_id=people["james_patient"].id, reason="Test", topic="Hi", body="x")
    assert other.patient_id == people["maria_patient"].id
