"""Every new conversation has a category and a reason, checked by the service; lists and headers
never show a separator beside an empty value; the patient's list names who it is with and who
wrote last."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from care_messaging.models import Conversation, Message
from care_messaging.presenters.patient import patient_conversation_row
from care_messaging.presenters.provider import about, conversation_row, joined
from care_messaging.services import conversation_list
from care_messaging.services import conversations as conv
from care_messaging.services.errors import ValidationError
from care_messaging.services.message_sending import send_message
from tests.factories import clinic


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


@pytest.mark.parametrize("who", ["lee", "maria"])
@pytest.mark.parametrize(("reason", "error"), [
    ("", "Enter a reason: a few words on why you are writing."),
    ("   \n\t ", "Enter a reason: a few words on why you are writing."),
    ("x" * (conv.MAX_REASON_CHARS + 1),
     f"Keep the reason to {conv.MAX_REASON_CHARS} characters or fewer (it has 121)."),
])
def test_a_conversation_needs_a_short_reason(session, who, reason, error):
    p = clinic(session)
    before = (_count(session, Conversation), _count(session, Message))
    with pytest.raises(ValidationError) as raised:
        conv.create_conversation(session, actor=p[who], patient_id=p["maria_patient"].id,
                                 topic="Refill", reason=reason, body="Hello",
                                 category="medication")
    assert str(raised.value) == error
    session.rollback()
    assert (_count(session, Conversation), _count(session, Message)) == before


def test_category_is_asked_for_before_the_reason(session):
    p = clinic(session)
    with pytest.raises(ValidationError, match=r"^Choose a category\.$"):
        conv.create_conversation(session, actor=p["maria"], patient_id=None, topic="Refill",
                                 reason="", body="x", category="")
    with pytest.raises(ValidationError, match=r"^Choose a valid category\.$"):
        conv.create_conversation(session, actor=p["maria"], patient_id=None, topic="Refill",
                                 reason="Trip", body="x", category="made_up")


def test_the_reason_is_stored_on_one_line_and_shown_with_the_category(session):
    p = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=p["lee"], patient_id=p["maria_patient"].id, topic="Labs",
        reason="  Follow-up on\n your   labs ", body="Results are in", category="test_results")
    assert conversation.reason == "Follow-up on your labs"
    row = conversation_list.get_row(session, actor=p["lee"], conversation_id=conversation.id)
    assert conversation_row(row)["about"] == "Test results · Follow-up on your labs"
    assert patient_conversation_row(row)["about"] == "Test results · Follow-up on your labs"


def test_no_separator_beside_an_empty_value():
    assert about("check_in", "") == "Check-in"
    assert about("check_in", "  ") == "Check-in"
    assert about("check_in", "Check in for Maria") == "Check-in · Check in for Maria"
    assert joined("", "Check-in") == "Check-in"
    assert joined("Dr. Lee", "", None, "Check-in") == "Dr. Lee · Check-in"  # type: ignore[arg-type]
    assert joined("", "") == ""


def test_patient_list_names_the_team_and_the_last_writer(session):
    p = clinic(session)
    started, _ = conv.create_conversation(
        session, actor=p["maria"], patient_id=None, topic="Knee", reason="Pain after a run",
        body="My knee hurts", category="check_in")
    # Nobody on the team has answered: the team's real names, not "Your care team".
    row = patient_conversation_row(
        conversation_list.get_row(session, actor=p["maria"], conversation_id=started.id), p["maria"].user_id)
    assert row["provider"] == "Dr. Lee and Dr. Patel"
    assert (row["last_sender"], row["preview"]) == ("You", "My knee hurts")
    assert row["subtitle"] == "Dr. Lee and Dr. Patel · Check-in"
    # Dr. Patel answers first and becomes the provider; Dr. Lee writes the latest message.
    send_message(session, actor=p["patel"], conversation_id=started.id, body="Rest it",
                 client_msg_id="patel-1")
    send_message(session, actor=p["lee"], conversation_id=started.id, body="Ice too",
                 client_msg_id="lee-1")
    row = patient_conversation_row(
        conversation_list.get_row(session, actor=p["maria"], conversation_id=started.id), p["maria"].user_id)
    assert row["provider"] == "Dr. Patel"
    assert (row["last_sender"], row["preview"]) == ("Dr. Lee", "Ice too")
    listed = conversation_list.list_conversations(session, actor=p["maria"]).rows
    assert [(r.provider_name, r.last_sender_name) for r in listed] == [("Dr. Patel", "Dr. Lee")]


def test_care_team_label():
    assert conversation_list.care_team_label([]) == "Your care team"
    assert conversation_list.care_team_label(["Dr. A"]) == "Dr. A"
    assert conversation_list.care_team_label(["Dr. A", "Dr. B", "NP C"]) == "Dr. A, Dr. B and NP C"
    assert conversation_list.care_team_label(["A", "B", "C", "D", "E"]) == "A, B, C and 2 more"
