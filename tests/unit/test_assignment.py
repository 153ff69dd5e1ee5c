"""Who is answering: take, assign within the care team, reassign, release; refusals; audit;
events; the list filters and rows."""

from __future__ import annotations

import pytest
from sqlmodel import select

from care_messaging.models import AuditEvent, Conversation
from care_messaging.services import assignment, conversation_list, events
from care_messaging.services import conversations as conv
from care_messaging.services.errors import NotFoundError, ValidationError
from tests.factories import clinic_with_two_threads, make_provider


@pytest.fixture
def setup(session):
    return clinic_with_two_threads(session)


def _audit(session, outcome: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(
        AuditEvent.action == "conversation_assign", AuditEvent.outcome == outcome)).all())


def test_take_assign_reassign_release_are_audited(session, setup):
    p, cid, _ = setup
    lee, patel = p["lee"], p["patel"]
    assert assignment.take(session, actor=lee, conversation_id=cid).assignee_user_id == lee.user_id
    session.commit()
    assignment.assign(session, actor=lee, conversation_id=cid, assignee_user_id=patel.user_id,
                      expected_user_id=lee.user_id)
    session.commit()
    assert session.get(Conversation, cid).assignee_user_id == patel.user_id
    assignment.release(session, actor=patel, conversation_id=cid)
    session.commit()
    assert session.get(Conversation, cid).assignee_user_id is None
    details = [a.detail for a in _audit(session, "success")]
    assert details == [f"user none -> user {lee.user_id}",
                       f"user {lee.user_id} -> user {patel.user_id}",
                       f"user {patel.user_id} -> user none"]


def test_the_change_is_an_event_for_the_team_and_the_patient(session, setup):
    p, cid, _ = setup
    seen: list[events.DomainEvent] = []
    consumer = events.on_commit(seen.extend)
    try:
        assignment.take(session, actor=p["patel"], conversation_id=cid)
        assert seen == []  # published when the caller's unit commits, not before
        session.commit()
    finally:
        events.remove(consumer)
    [event] = [e for e in seen if e.kind == events.Kind.ASSIGNED]
    assert set(event.user_ids) == {p["lee"].user_id, p["patel"].user_id, p["maria"].user_id}
    assert event.message is None


def test_only_the_care_team_can_be_assigned(session, setup):
    p, cid, _ = setup
    _out_user, _ = make_provider(session, "Dr. Nobody")
    for stranger in (p["outsider"].user_id, p["maria"].user_id, p["james"].user_id, 999999,
                     "2", -1):
        with pytest.raises(ValidationError, match="care team"):
            assignment.assign(session, actor=p["lee"], conversation_id=cid,
                              assignee_user_id=stranger)
        session.rollback()  # what the caller's unit does on the refusal
    assert session.get(Conversation, cid).assignee_user_id is None
    assert len(_audit(session, "rejected")) == 6


def test_patient_other_team_and_forged_ids_look_like_not_found(session, setup):
    p, cid, other = setup
    cases = [(p["maria"], cid), (p["outsider"], cid), (p["lee"], other), (p["lee"], 999999),
             (p["lee"], "1")]
    for actor, conversation_id in cases:
        with pytest.raises(NotFoundError, match="Conversation not found"):
            assignment.take(session, actor=actor, conversation_id=conversation_id)
        session.rollback()  # the denial's row stays: it was written apart
        with pytest.raises(NotFoundError):
            assignment.assignable(session, actor=actor, conversation_id=conversation_id)
        session.rollback()
    assert session.get(Conversation, cid).assignee_user_id is None
    assert len(_audit(session, "denied")) == 2 * len(cases)


def test_a_change_made_meanwhile_is_not_overwritten(session, setup):
    p, cid, _ = setup
    assignment.take(session, actor=p["lee"], conversation_id=cid, expected_user_id=None)
    session.commit()
    # Patel's screen still showed it unassigned.
    with pytest.raises(ValidationError, match="a moment ago"):
        assignment.take(session, actor=p["patel"], conversation_id=cid, expected_user_id=None)
    session.rollback()
    assert session.get(Conversation, cid).assignee_user_id == p["lee"].user_id


def test_assignable_lists_the_active_team_only(session, setup):
    p, cid, _ = setup
    names = [m.name for m in assignment.assignable(session, actor=p["lee"], conversation_id=cid)]
    assert names == ["Dr. Lee", "Dr. Patel"]


def test_filters_and_rows_name_the_handler(session, setup):
    p, cid, _ = setup
    second, _ = conv.create_conversation(session, actor=p["maria"], patient_id=None,
                                         reason="Test", topic="Second", body="Hello")
    session.commit()
    assignment.take(session, actor=p["patel"], conversation_id=cid)
    session.commit()

    def topics(actor, filter_by):
        return [r.topic for r in conversation_list.list_conversations(session, actor=actor,
                                                                      filter_by=filter_by).rows]

    assert topics(p["patel"], "assigned_to_me") == ["Refill"]
    assert topics(p["lee"], "assigned_to_me") == []
    assert topics(p["lee"], "unassigned") == ["Second"]
    row = conversation_list.get_row(session, actor=p["lee"], conversation_id=cid)
    assert row.assignee_name == "Dr. Patel" and row.assignee_user_id == p["patel"].user_id
    # The patient sees who is handling it, in the list and the header.
    mine = conversation_list.get_row(session, actor=p["maria"], conversation_id=cid)
    assert mine.assignee_name == "Dr. Patel" and mine.provider_name == "Dr. Patel"
    assert conversation_list.get_row(session, actor=p["maria"], conversation_id=second.id).assignee_name == ""
