"""Issue 17 item 9: message search in context, scoped to what each user may see, audited."""

from __future__ import annotations

from sqlmodel import select

from care_messaging.models import AuditEvent
from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_search import find_messages, snippet
from care_messaging.services.message_sending import send_message
from tests.factories import clinic


def _setup(session):
    people = clinic(session)
    maria, _ = create_conversation(
        session, reason="Test follow-up", actor=people["lee"], patient_id=people["maria_patient"].id,
        topic="Blood sugar", body="Please lower the Metformin dose to 500 mg.")
    send_message(session, actor=people["maria"], conversation_id=maria.id,
                 body="Dizziness after the dose change?", client_msg_id="m1")
    james, _ = create_conversation(
        session, reason="Test follow-up", actor=people["outsider"], patient_id=people["james_patient"].id,
        topic="Private", body="Your metformin dose is fine.")
    session.commit()
    return people, maria, james


def test_provider_finds_their_teams_messages_in_context(session):
    people, maria, _james = _setup(session)
    results = find_messages(session, actor=people["lee"], query="dose")
    assert [r.snippet for r in results] == ["Dizziness after the dose change?",
                                           "Please lower the Metformin dose to 500 mg."]
    newest = results[0]
    assert newest.conversation_id == maria.id and newest.seq == 2
    assert newest.topic == "Blood sugar" and newest.patient_name == "Maria Garcia"
    assert newest.sender_name == "Maria Garcia" and not newest.mine
    assert results[1].mine and results[1].created_at is not None
    # Another provider on Maria's team sees the same; one outside it sees only his own.
    assert len(find_messages(session, actor=people["patel"], query="dose")) == 2
    outside = find_messages(session, actor=people["outsider"], query="dose")
    assert [r.topic for r in outside] == ["Private"]


def test_patients_search_only_their_own_conversations(session):
    people, maria, james = _setup(session)
    mine = find_messages(session, actor=people["maria"], query="metformin")
    assert [r.conversation_id for r in mine] == [maria.id]
    theirs = find_messages(session, actor=people["james"], query="metformin dose")
    assert [r.conversation_id for r in theirs] == [james.id]
    assert find_messages(session, actor=people["james"], query="dizziness") == []


def test_every_search_is_audited_without_the_words(session):
    people, _maria, _james = _setup(session)
    find_messages(session, actor=people["lee"], query="dizziness")
    row = session.exec(select(AuditEvent).where(AuditEvent.action == "message_search")).one()
    assert row.actor_user_id == people["lee"].user_id and row.outcome == "success"
    assert row.detail == "1 results" and "dizziness" not in f"{row.detail}{row.object_id}"


def test_snippet_centres_on_the_match_and_marks_cuts():
    body = "Start. " + "filler words here " * 20 + "the dose is 5 mg " + "more text " * 20
    cut = snippet(body, "dose", width=80)
    assert "dose" in cut and cut.startswith("…") and cut.endswith("…")
    assert len(cut) <= 82
    assert snippet("Short  message\nhere", "x") == "Short message here"
