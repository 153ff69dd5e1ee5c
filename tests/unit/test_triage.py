"""Red flags and reply-by times on stored messages, and the escalation job run by the real
embedded job runner (real SQLite, real SMTP server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from care_messaging import db
from care_messaging.jobs.embedded import Runner
from care_messaging.models import AuditEvent, Conversation, Job, utcnow
from care_messaging.services import red_flags, reply_by, triage, triage_list
from care_messaging.services.conversation_list import list_conversations
from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from tests.conftest import reset_caches
from tests.factories import clinic
from tests.smtp_capture import SmtpCapture

SECRET_WORDS = ("Maria", "Garcia", "chest", "Knee", "P-100200")


@pytest.mark.parametrize(("text", "found"), [
    ("I have CHEST PAIN since this morning", ["chest pain"]),
    ("chest\npain and trouble  breathing", ["chest pain", "trouble breathing"]),
    ("I can\u2019t breathe well", ["can't breathe"]),
    ("I think it's a Stroke.", ["stroke"]),
    ("Thanks for the strokes of advice", []),  # whole words only
    ("my overdose-free month", []),  # part of a longer word
    ("I had an overdose yesterday", ["overdose"]),
    ("Some days I want to die", ["want to die"]),
    ("Refill for my inhaler please", []),
    ("", []),
])
def test_red_flag_matching(text, found):
    assert red_flags.matches(text) == found
    assert red_flags.is_red_flag(text) == bool(found)


def test_the_list_covers_the_named_emergencies():
    listed = set(red_flags.phrases())
    assert {"chest pain", "trouble breathing", "stroke", "suicidal", "overdose",
            "severe bleeding"} <= listed


def _patient_conversation(session, people, body="Question about my knee"):
    conversation, _ = create_conversation(
        session, actor=people["maria"], patient_id=None, topic="Knee question",
        reason="Knee", body=body)
    session.commit()  # the caller's unit of work: the triage consumer runs on its commit
    return conversation


def test_a_red_flag_message_is_stored_flagged_urgent_on_top_and_audited(session):
    people = clinic(session)
    calm = _patient_conversation(session, people)
    flagged = _patient_conversation(session, people)
    send_message(session, actor=people["maria"], conversation_id=flagged.id,
                 body="Now I have chest pain", client_msg_id="rf-1")
    session.commit()
    # A later message elsewhere does not push the flagged one down.
    send_message(session, actor=people["maria"], conversation_id=calm.id,
                 body="Also a refill please", client_msg_id="rf-2")
    session.commit()
    session.expire_all()
    row = session.get(Conversation, flagged.id)
    assert row.priority == "urgent" and row.red_flag_at is not None and row.attention == 2
    page = list_conversations(session, actor=people["lee"])
    assert [r.id for r in page.rows][:2] == [flagged.id, calm.id]
    assert page.rows[0].red_flag
    audits = session.exec(select(AuditEvent).where(
        AuditEvent.action == red_flags.RED_FLAG_ACTION)).all()
    assert len(audits) == 1 and "chest" not in audits[0].detail
    assert audits[0].object_id == str(flagged.id)
    # The urgent reply-by time (4 working hours) replaced the routine one.
    hours = reply_by.load(session)
    message_at = row.last_message_at.replace(tzinfo=UTC)
    assert row.reply_by_at.replace(tzinfo=UTC) == reply_by.reply_by(message_at, "urgent", hours)


def test_a_provider_reply_clears_reply_by_and_the_raise_but_keeps_the_mark(session):
    people = clinic(session)
    conversation = _patient_conversation(session, people, body="Severe bleeding after surgery")
    session.expire_all()
    assert session.get(Conversation, conversation.id).reply_by_at is not None
    send_message(session, actor=people["patel"], conversation_id=conversation.id,
                 body="Please call us now.", client_msg_id="p-1")
    session.commit()
    session.expire_all()
    row = session.get(Conversation, conversation.id)
    assert row.reply_by_at is None and row.attention == 0
    assert row.red_flag_at is not None and row.priority == "urgent"


def test_the_first_unanswered_message_keeps_its_reply_by_time(session):
    people = clinic(session)
    conversation = _patient_conversation(session, people)
    session.expire_all()
    first = session.get(Conversation, conversation.id).reply_by_at
    send_message(session, actor=people["maria"], conversation_id=conversation.id,
                 body="Any news?", client_msg_id="m-2")
    session.commit()
    session.expire_all()
    assert session.get(Conversation, conversation.id).reply_by_at == first


@pytest.fixture
def smtp(db_url, monkeypatch):
    with SmtpCapture() as box:
        monkeypatch.setenv("CARE_SMTP_URL", box.url)
        monkeypatch.setenv("CARE_PUBLIC_ORIGIN", "https://care.example")
        reset_caches()
        yield box


def _due_now(session) -> None:
    """Make the scheduled escalation due (the runner compares with real time)."""
    session.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
    session.commit()


def test_the_job_escalates_an_overdue_conversation_once(session, smtp, monkeypatch):
    people = clinic(session)
    calm = _patient_conversation(session, people)
    late = _patient_conversation(session, people)
    send_message(session, actor=people["maria"], conversation_id=calm.id,
                 body="One more thing", client_msg_id="c-2")  # calm is the newest now
    session.commit()
    session.expire_all()
    due = session.get(Conversation, late.id).reply_by_at.replace(tzinfo=UTC)
    jobs = session.exec(select(Job).where(Job.kind == triage.ESCALATE)).all()
    assert {j.args for j in jobs} >= {f'{{"conversation_id": {late.id}}}'}
    # Calm gets answered; late does not.
    send_message(session, actor=people["lee"], conversation_id=calm.id, body="Done.",
                 client_msg_id="c-3")
    session.commit()
    runner = Runner(db.get_engine(), lease_seconds=60)
    # Before its time, a run changes nothing.
    monkeypatch.setattr(triage_list, "clock", lambda: due - timedelta(minutes=1))
    _due_now(session)
    runner.run_until_idle()
    session.expire_all()
    assert session.get(Conversation, late.id).escalated_at is None
    # After it: escalated, raised, audited, the team told without PHI.
    monkeypatch.setattr(triage_list, "clock", lambda: due + timedelta(minutes=5))
    from care_messaging import jobs as job_api

    for _ in range(2):  # the job runs twice (at-least-once): one escalation, one email each
        job_api.enqueue(session, triage.ESCALATE, {"conversation_id": late.id},
                        run_at=utcnow() - timedelta(seconds=1))
        session.commit()
        runner.run_until_idle()
    session.expire_all()
    row = session.get(Conversation, late.id)
    assert row.escalated_at is not None and row.attention == 1
    assert session.get(Conversation, calm.id).escalated_at is None
    page = list_conversations(session, actor=people["patel"], filter_by="overdue")
    assert [r.id for r in page.rows] == [late.id]
    assert page.rows[0].overdue
    everything = list_conversations(session, actor=people["patel"])
    assert everything.rows[0].id == late.id  # raised above the newer conversation
    audits = session.exec(select(AuditEvent).where(
        AuditEvent.action == triage.ESCALATE_ACTION)).all()
    assert len(audits) == 1 and audits[0].object_id == str(late.id)
    overdue_mails = [m for m in smtp.received if m.subject == triage.OVERDUE_SUBJECT]
    assert sorted(m.to[0] for m in overdue_mails) == sorted(
        [people["lee"].email, people["patel"].email])
    for mail in overdue_mails:
        text = mail.subject + mail.body
        assert not any(word in text for word in SECRET_WORDS)
        assert f"c%3D{late.id}" in text
    # The outsider (not on Maria's team) sees none of it.
    assert list_conversations(session, actor=people["outsider"], filter_by="overdue").rows == []
    assert triage.overdue_count(session, patient_ids=[people["maria_patient"].id],
                                now=due + timedelta(minutes=5)) == 1
    # A reply ends the escalation.
    send_message(session, actor=people["lee"], conversation_id=late.id, body="Sorry!",
                 client_msg_id="l-1")
    session.commit()
    session.expire_all()
    assert session.get(Conversation, late.id).attention == 0
    assert list_conversations(session, actor=people["patel"], filter_by="overdue").rows == []


def test_a_completed_conversation_is_not_escalated(session, smtp, monkeypatch):
    people = clinic(session)
    conversation = _patient_conversation(session, people)
    session.execute(update(Conversation).where(Conversation.id == conversation.id)
                    .values(status="completed"))
    session.commit()
    monkeypatch.setattr(triage_list, "clock", lambda: datetime(2100, 1, 1, tzinfo=UTC))
    _due_now(session)
    Runner(db.get_engine(), lease_seconds=60).run_until_idle()
    session.expire_all()
    assert session.get(Conversation, conversation.id).escalated_at is None
    assert [m for m in smtp.received if m.subject == triage.OVERDUE_SUBJECT] == []


def _escalation_jobs(session, conversation_id):
    session.expire_all()
    return session.exec(select(Job).where(
        Job.kind == triage.ESCALATE, Job.status == "queued",
        Job.args == f'{{"conversation_id": {conversation_id}}}')).all()


def test_one_waiting_escalation_job_per_conversation_kept_at_the_soonest_time(session):
    people = clinic(session)
    conversation = _patient_conversation(session, people)
    first_due = session.get(Conversation, conversation.id).reply_by_at
    # Answered, then the patient writes again, several times: still one waiting job (it
    # keeps the earlier time; run early, it waits again: the next test).
    for n in range(3):
        send_message(session, actor=people["lee"], conversation_id=conversation.id,
                     body="Noted.", client_msg_id=f"r-{n}")
        session.commit()
        send_message(session, actor=people["maria"], conversation_id=conversation.id,
                     body="One more question", client_msg_id=f"q-{n}")
        session.commit()
    [job] = _escalation_jobs(session, conversation.id)
    assert job.run_at == first_due
    # A red flag brings the reply-by time forward: the waiting job moves with it.
    send_message(session, actor=people["lee"], conversation_id=conversation.id,
                 body="Noted.", client_msg_id="r-9")
    session.commit()
    send_message(session, actor=people["maria"], conversation_id=conversation.id,
                 body="Now severe bleeding", client_msg_id="q-9")
    session.commit()
    urgent_due = session.get(Conversation, conversation.id).reply_by_at
    assert urgent_due < first_due
    [job] = _escalation_jobs(session, conversation.id)
    assert job.run_at == urgent_due


def test_an_escalation_job_run_before_the_time_waits_again_until_it(session, monkeypatch):
    people = clinic(session)
    conversation = _patient_conversation(session, people)
    due = session.get(Conversation, conversation.id).reply_by_at.replace(tzinfo=UTC)
    monkeypatch.setattr(triage_list, "clock", lambda: due - timedelta(minutes=1))
    _due_now(session)
    Runner(db.get_engine(), lease_seconds=60).run_until_idle()
    [job] = _escalation_jobs(session, conversation.id)
    assert job.run_at.replace(tzinfo=UTC) == due and job.attempts == 0
    assert session.get(Conversation, conversation.id).escalated_at is None
    # Answered meanwhile: the job, when it runs, ends without scheduling again.
    send_message(session, actor=people["lee"], conversation_id=conversation.id,
                 body="Noted.", client_msg_id="r-1")
    session.commit()
    _due_now(session)
    Runner(db.get_engine(), lease_seconds=60).run_until_idle()
    assert _escalation_jobs(session, conversation.id) == []


def test_the_sends_noted_triage_state_is_taken_once(session):
    """The send's sequence update notes the locked row's priority and reply-by time for its
    transaction; triage takes the note instead of reading, a second reader in the same
    transaction reads the row again, and no note outlives its transaction."""
    from care_messaging.services import hot_sql
    from care_messaging.services.triage import TRIAGE_COLUMNS
    from tests.unit.test_messages import _conversation

    people = clinic(session)
    cid = _conversation(session, people)
    session.get(Conversation, cid)  # in a transaction
    hot_sql.note(session, Conversation, cid, TRIAGE_COLUMNS, ("urgent", None))
    assert hot_sql.take_note(session, Conversation, cid, TRIAGE_COLUMNS) == ("urgent", None)
    assert hot_sql.take_note(session, Conversation, cid, TRIAGE_COLUMNS) is None
    hot_sql.note(session, Conversation, cid, TRIAGE_COLUMNS, ("urgent", None))
    session.commit()
    session.get(Conversation, cid)  # the next transaction
    assert hot_sql.take_note(session, Conversation, cid, TRIAGE_COLUMNS) is None
    # A patient's send: triage set the reply-by time from the noted state (routine priority).
    message_at = utcnow()
    send_message(session, actor=people["maria"], conversation_id=cid, body="A question",
                 client_msg_id="noted-1")
    session.commit()
    due = session.get(Conversation, cid).reply_by_at
    assert due is not None and due.replace(tzinfo=UTC) >= message_at
