"""Response times for clinic leads: medians and shares within the reply-by time, per
provider and per week, and the overdue count; only the admin and clinic leads see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from care_messaging.models import AuditEvent, Conversation, Provider
from care_messaging.services import response_times
from care_messaging.services.conversations import create_conversation
from care_messaging.services.errors import NotFoundError
from care_messaging.services.message_sending import send_message
from tests.factories import actor_of, clinic, make_admin

# Tuesday 2026-11-24 14:00 UTC = 09:00 in New York (the default clinic zone).
TUESDAY = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # the Friday after


def _conversation(session, people, *, created: datetime, reply_after: timedelta | None,
                  replier: str = "lee", n: list[int] = [0]) -> int:  # noqa: B006
    n[0] += 1
    conversation, _ = create_conversation(session, actor=people["maria"], patient_id=None,
                                          topic=f"Question {n[0]}", reason="Q", body="Hello")
    if reply_after is not None:
        send_message(session, actor=people[replier], conversation_id=conversation.id,
                     body="Answer", client_msg_id=f"r-{n[0]}")
    values = {"created_at": created}
    if reply_after is not None:
        values["first_provider_reply_at"] = created + reply_after
    session.execute(update(Conversation).where(Conversation.id == conversation.id)
                    .values(**values))
    session.commit()
    return conversation.id


def test_medians_and_shares_per_provider_and_week(session):
    people = clinic(session)
    admin = actor_of(session, make_admin(session))
    # Lee: 1 h, 3 h and 4 days (late: routine is 2 business days) -> median 3 h, 2/3 in time.
    _conversation(session, people, created=TUESDAY, reply_after=timedelta(hours=1))
    _conversation(session, people, created=TUESDAY, reply_after=timedelta(hours=3))
    _conversation(session, people, created=TUESDAY - timedelta(days=7),
                  reply_after=timedelta(days=4))
    # Patel: 30 min and 90 min -> median 1 h, all in time.
    _conversation(session, people, created=TUESDAY, reply_after=timedelta(minutes=30),
                  replier="patel")
    _conversation(session, people, created=TUESDAY - timedelta(days=7),
                  reply_after=timedelta(minutes=90), replier="patel")
    # Unanswered, past its reply-by time at NOW: overdue.
    overdue_id = _conversation(session, people, created=TUESDAY - timedelta(days=7),
                               reply_after=None)
    session.execute(update(Conversation).where(Conversation.id == overdue_id)
                    .values(reply_by_at=TUESDAY - timedelta(days=5)))
    session.commit()
    report = response_times.compute(session, actor=admin, weeks=3, now=NOW)
    by_name = {b.label: b for b in report.providers}
    assert by_name["Dr. Lee"].replies == 3
    assert by_name["Dr. Lee"].median_seconds == 3 * 3600
    assert by_name["Dr. Lee"].within_share == pytest.approx(2 / 3)
    assert by_name["Dr. Patel"].median_seconds == 3600
    assert by_name["Dr. Patel"].within_share == 1
    assert [w.label for w in report.weeks] == ["Week of Nov 9", "Week of Nov 16",
                                               "Week of Nov 23"]
    assert [w.replies for w in report.weeks] == [0, 2, 3]
    assert report.weeks[0].median_seconds is None
    assert report.weeks[1].median_seconds == (4 * 86400 + 90 * 60) / 2
    assert report.weeks[1].within_share == 0.5
    assert report.weeks[2].median_seconds == 3600
    assert report.overdue_now == 1 and report.waiting == 1
    assert session.exec(select(AuditEvent).where(
        AuditEvent.action == response_times.VIEW_ACTION)).one().actor_user_id == admin.user_id


def test_only_the_admin_and_clinic_leads(session):
    people = clinic(session)
    for who in ("lee", "maria"):
        with pytest.raises(NotFoundError):
            response_times.compute(session, actor=people[who], now=NOW)
    session.execute(update(Provider).where(Provider.id == people["lee"].provider_id)
                    .values(is_lead=True))
    session.commit()
    assert response_times.compute(session, actor=people["lee"], now=NOW).providers == []
