"""Notification emails: only "you have a new secure message" and a sign-in link, after the
delay, at most one per user per window, none once read; reminders and the digest, counts only.
Driven through the real services, the embedded job runner and a real SMTP server."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from care_messaging import db
from care_messaging.jobs import periodic
from care_messaging.jobs.embedded import Runner
from care_messaging.models import AuditEvent, Message, utcnow
from care_messaging.services import notifications
from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from care_messaging.services.receipts import mark_read
from tests.conftest import reset_caches
from tests.factories import clinic
from tests.smtp_capture import SmtpCapture

DELAY = 1
SECRET_WORDS = ("Maria", "Garcia", "Lee", "Patel", "Knee", "MRI", "meniscus", "P-100200")


@pytest.fixture
def smtp(db_url, monkeypatch):
    with SmtpCapture() as box:
        monkeypatch.setenv("CARE_SMTP_URL", box.url)
        monkeypatch.setenv("CARE_NOTIFY_DELAY_SECONDS", str(DELAY))
        monkeypatch.setenv("CARE_PUBLIC_ORIGIN", "https://care.example")
        reset_caches()
        yield box


def _run_jobs() -> None:
    Runner(db.get_engine(), lease_seconds=60).run_until_idle()


def _start(session, people):
    conversation, _ = create_conversation(
        session, reason="Test follow-up", actor=people["lee"], patient_id=people["maria_patient"].id,
        topic="Knee MRI results", body="Your MRI shows a small meniscus tear.")
    session.commit()
    return conversation


def _maria(people) -> str:
    return people["maria"].email


def test_one_email_after_the_delay_without_phi_and_audited(session, smtp):
    people = clinic(session)
    conversation = _start(session, people)
    _run_jobs()
    assert smtp.received == []  # not before the delay
    time.sleep(DELAY + 0.2)
    _run_jobs()
    [email] = smtp.to(_maria(people))
    assert email.subject == notifications.NEW_MESSAGE_SUBJECT
    for word in SECRET_WORDS:
        assert word.lower() not in (email.subject + email.body).lower(), word
    assert (f"https://care.example/login?next=%2Fportal%3Fc%3D{conversation.id}"
            in email.body)
    assert len(smtp.to(people["patel"].email)) == 1  # the care team member who has not read
    assert smtp.to(people["lee"].email) == []  # the sender
    rows = session.exec(select(AuditEvent).where(AuditEvent.action == "notification_email")
                        ).all()
    assert {(r.object_id, r.outcome) for r in rows} == {(str(conversation.id), "success")}
    assert {r.detail for r in rows} == {f"kind=new_message recipient_user={people[w].user_id}"
                                        for w in ("maria", "patel")}
    time.sleep(DELAY + 0.2)
    _run_jobs()
    assert len(smtp.to(_maria(people))) == 1  # nothing new: no second email


def test_a_second_message_within_the_window_sends_no_second_email(session, smtp):
    people = clinic(session)
    conversation = _start(session, people)
    send_message(session, actor=people["lee"], conversation_id=conversation.id,
                 body="And please book a follow-up.", client_msg_id="second")
    session.commit()
    time.sleep(DELAY + 0.2)
    _run_jobs()
    time.sleep(DELAY + 0.2)
    _run_jobs()
    assert len(smtp.to(_maria(people))) == 1


def test_read_before_the_delay_sends_none(session, smtp):
    people = clinic(session)
    conversation = _start(session, people)
    mark_read(session, actor=people["maria"], conversation=conversation)
    session.commit()
    time.sleep(DELAY + 0.2)
    _run_jobs()
    assert smtp.to(_maria(people)) == []
    assert len(smtp.to(people["patel"].email)) == 1  # Dr. Patel has not read it


def test_opted_out_user_gets_no_email(session, smtp):
    people = clinic(session)
    notifications.set_preferences(session, actor=people["maria"], email_on=False,
                                  digest_on=True)
    session.commit()
    _start(session, people)
    time.sleep(DELAY + 0.2)
    _run_jobs()
    assert smtp.to(_maria(people)) == []


def test_one_email_per_user_per_window_across_conversations(session, smtp):
    people = clinic(session)
    _start(session, people)
    time.sleep(0.5)
    create_conversation(session, reason="Test follow-up", actor=people["patel"], patient_id=people["maria_patient"].id,
                        topic="Diet", body="Some advice")
    session.commit()
    time.sleep(DELAY - 0.5 + 0.2)
    _run_jobs()  # the first conversation's check is due; the second's not yet
    assert len(smtp.to(_maria(people))) == 1
    time.sleep(0.5)
    _run_jobs()  # the second's is due, but Maria was emailed less than a window ago
    assert len(smtp.to(_maria(people))) == 1
    time.sleep(DELAY)
    _run_jobs()  # her window has ended and she still has not read it
    assert len(smtp.to(_maria(people))) == 2


def test_reminder_once_after_48_hours_unread(session, smtp):
    people = clinic(session)
    conversation = _start(session, people)
    session.execute(update(Message).where(Message.conversation_id == conversation.id)
                    .values(created_at=utcnow() - timedelta(hours=49)))
    session.commit()
    notifications.reminder_sweep({})
    notifications.reminder_sweep({})  # a sweep run twice reminds once
    [email] = [e for e in smtp.to(_maria(people))
               if e.subject == notifications.REMINDER_SUBJECT]
    for word in SECRET_WORDS:
        assert word.lower() not in (email.subject + email.body).lower(), word
    assert smtp.to(people["patel"].email) == []  # reminders are for patients


def test_daily_digest_counts_only(session, smtp):
    people = clinic(session)
    conversation = _start(session, people)
    send_message(session, actor=people["maria"], conversation_id=conversation.id,
                 body="My knee still hurts", client_msg_id="reply")
    session.commit()
    notifications.set_preferences(session, actor=people["patel"], email_on=True,
                                  digest_on=False)
    session.commit()
    notifications.daily_digest({"day": "2026-01-01"})
    notifications.daily_digest({"day": "2026-01-01"})
    [digest] = smtp.to(people["lee"].email)
    assert digest.subject == notifications.DIGEST_SUBJECT
    assert digest.body.startswith("1 patient conversation is waiting")
    for word in (*SECRET_WORDS, "hurts"):
        assert word.lower() not in (digest.subject + digest.body).lower(), word
    assert smtp.to(people["patel"].email) == []  # digest off
    assert smtp.to(people["outsider"].email) == []  # nothing waiting on their teams


def test_periodic_jobs_are_scheduled_once(session, smtp):
    from care_messaging.models import Job

    periodic.ensure_scheduled(session)
    periodic.ensure_scheduled(session)
    session.commit()
    kinds = sorted(j.kind for j in session.exec(select(Job)).all())
    assert kinds == ["daily_digest", "reminder_sweep"]
