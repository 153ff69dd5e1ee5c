"""Dashboard statistics, computed only over what the provider may see."""

from __future__ import annotations

from datetime import timedelta

from care_messaging.models import Conversation
from care_messaging.services import conversations as conv
from care_messaging.services import message_sending as sending
from care_messaging.services import receipts, stats
from tests.factories import clinic


def _start(session, actor, patient_id, topic, body="hello"):
    conversation, _ = conv.create_conversation(
        session, actor=actor, patient_id=patient_id, reason="Test", topic=topic, body=body
    )
    return conversation


def _reply(session, actor, conversation_id, body="reply"):
    result = sending.send_message(session, actor=actor, conversation_id=conversation_id, body=body,
                                  client_msg_id=f"{actor.user_id}-{body}-{conversation_id}")
    session.commit()  # the test is the caller: its unit of work commits
    return result


def test_counts_unread_patients_and_messages(session):
    p = clinic(session)
    maria = p["maria_patient"].id
    c1 = _start(session, p["maria"], maria, "Refill")          # patient-started, 1 message
    _reply(session, p["maria"], c1.id, "second")                # 2 messages, unread for Lee
    c2 = _start(session, p["patel"], maria, "Lab results")      # colleague-started: unread 1
    _start(session, p["james"], p["james_patient"].id, "Rash")  # outside Lee's team

    s = stats.dashboard_counts(session, actor=p["lee"])
    assert s.total_conversations == 2
    assert s.unread_messages == 3
    assert s.unique_patients == 1
    assert s.total_messages == 3
    per_day = stats.messages_per_day(session, actor=p["lee"])
    assert len(per_day) == stats.CHART_DAYS
    assert per_day[-1].messages == 3
    assert sum(d.messages for d in per_day) == 3

    session.refresh(c2)
    receipts.mark_read(session, actor=p["lee"], conversation=c2)
    assert stats.dashboard_counts(session, actor=p["lee"]).unread_messages == 2


def test_outside_provider_sees_nothing(session):
    p = clinic(session)
    _start(session, p["maria"], p["maria_patient"].id, "Refill")
    s = stats.dashboard_counts(session, actor=p["outsider"])
    assert (s.total_conversations, s.unread_messages, s.unique_patients, s.total_messages) == (
        0, 0, 0, 0)
    assert sum(d.messages for d in stats.messages_per_day(session, actor=p["outsider"])) == 0
    assert stats.median_first_reply_seconds(session, actor=p["outsider"]) is None


def test_median_first_reply_only_for_patient_started(session):
    p = clinic(session)
    maria = p["maria_patient"].id
    waits = [600, 1800, 7200]
    for i, wait in enumerate(waits):
        c = _start(session, p["maria"], maria, f"Question {i}")
        _reply(session, p["lee"], c.id, f"answer{i}")
        row = session.get(Conversation, c.id)
        row.first_provider_reply_at = row.created_at + timedelta(seconds=wait)
        session.add(row)
    # Provider-started conversations do not count, however long ago.
    c = _start(session, p["lee"], maria, "Check-in")
    row = session.get(Conversation, c.id)
    row.first_provider_reply_at = row.created_at + timedelta(days=9)
    session.add(row)
    session.commit()
    assert stats.median_first_reply_seconds(session, actor=p["lee"]) == 1800
    assert stats.format_duration(1800) == "30 min"
    assert stats.format_duration(None) == "—"


def test_chart_counters_match_the_messages_after_seeding_and_sending(session):
    """The 30-day chart reads per-patient daily counters; they must equal a direct count of
    the messages the provider may see, both for bulk-seeded history and for new sends."""
    from sqlalchemy import func
    from sqlmodel import select

    from care_messaging.models import Message, User
    from care_messaging.services.access import visible_patient_ids
    from care_messaging.services.actors import actor_for_user
    from care_messaging.services.seed import seed_demo

    seed_demo(session, conversations=40, messages=400)
    lee = actor_for_user(session, session.exec(
        select(User).where(User.email == "jordan.lee@demo.care")).one())

    def direct_count() -> dict:
        rows = session.exec(
            select(func.date(Message.created_at), func.count())
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.patient_id.in_(visible_patient_ids(lee)))
            .group_by(func.date(Message.created_at))
        ).all()
        return {str(d): n for d, n in rows}

    def chart() -> dict:
        return {d.day.isoformat(): d.messages
                for d in stats.messages_per_day(session, actor=lee) if d.messages}

    window_start = stats.messages_per_day(session, actor=lee)[0].day.isoformat()
    in_window = {d: n for d, n in direct_count().items() if d >= window_start}
    assert in_window and chart() == in_window
    busiest = session.exec(select(Conversation).where(
        Conversation.patient_id.in_(visible_patient_ids(lee)))).first()
    before = stats.messages_per_day(session, actor=lee)[-1].messages
    _reply(session, lee, busiest.id, "counted today")
    assert stats.messages_per_day(session, actor=lee)[-1].messages == before + 1
