"""Durable jobs survive a SIGKILLed worker: after a restart every job is done, and every
email it sends arrives exactly once (SQLite; PostgreSQL with procrastinate where present)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from care_messaging import db
from care_messaging.models import Job, SentNotification
from care_messaging.services.conversations import create_conversation
from tests.conftest import reset_caches
from tests.factories import clinic
from tests.smtp_capture import SmtpCapture

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_URL = os.environ.get("CARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
LEASE_SECONDS = 2


def _start_worker(url: str, smtp_url: str, log) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "CARE_SMTP_URL": smtp_url,
           "CARE_NOTIFY_DELAY_SECONDS": "0", "CARE_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
           "CARE_JOB_POLL_SECONDS": "0.2"}
    return subprocess.Popen([sys.executable, "-m", "care_messaging.cli", "jobs"], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)


def _due_jobs(session: Session, people) -> set[str]:
    """Eight conversations started by providers: each schedules one unread check, due now,
    that emails the patient and the other care-team members who have not read it."""
    expected = set()
    for n in range(4):
        for provider, patient, others in (
            ("lee", "maria_patient", ("maria", "patel")),
            ("outsider", "james_patient", ("james",)),
        ):
            conversation, _ = create_conversation(
                session, reason="Test follow-up", actor=people[provider], patient_id=people[patient].id,
                topic=f"Follow-up {n}", body="Please read")
            for who in others:
                expected.add(f"<new_message.{people[who].user_id}.{conversation.id}.1"
                             "@care-messaging>")
    session.commit()
    return expected


def _unfinished(session: Session) -> list[str]:
    """Statuses of the notification jobs not done yet (either backend)."""
    if session.get_bind().dialect.name == "postgresql":
        return list(session.execute(text(
            "SELECT status::text FROM procrastinate_jobs WHERE task_name = 'notify_unread' "
            "AND status <> 'succeeded'")).scalars())
    return [j.status for j in session.exec(select(Job).where(Job.kind == "notify_unread",
                                                             Job.status != "done"))]


def _crash_and_recover(url: str, people_session: Session, tmp_path) -> None:
    people = clinic(people_session)
    expected = _due_jobs(people_session, people)
    assert len(expected) == 12
    worker: list[subprocess.Popen] = []

    def kill_midway(count: int) -> None:
        # The fifth email is in the server's hands but its sender has not heard "250" yet.
        if count == 5:
            os.kill(worker[0].pid, signal.SIGKILL)

    log = (tmp_path / "worker.log").open("w")
    with SmtpCapture(on_receive=kill_midway) as smtp:
        worker.append(_start_worker(url, smtp.url, log))
        assert worker[0].wait(60) == -signal.SIGKILL
        with Session(db.get_engine()) as s:
            left = _unfinished(s)
        assert left, "the worker was killed with jobs still due"
        assert {"running", "doing"} & set(left)  # the one it was running
        time.sleep(LEASE_SECONDS + 1)
        worker.append(_start_worker(url, smtp.url, log))
        try:
            smtp.wait_for(12, timeout=60)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with Session(db.get_engine()) as s:
                    pending = _unfinished(s)
                if not pending:
                    break
                time.sleep(0.2)
            assert not pending
            time.sleep(1)  # anything sent twice would have arrived by now
        finally:
            worker[1].send_signal(signal.SIGTERM)
            worker[1].wait(20)
        ids = [r.message_id for r in smtp.received]
    assert sorted(ids) == sorted(expected)  # every email once: none lost, none twice
    with Session(db.get_engine()) as s:
        claims = s.exec(select(SentNotification)).all()
    assert len(claims) == 12


@pytest.fixture
def zero_delay(monkeypatch):
    monkeypatch.setenv("CARE_NOTIFY_DELAY_SECONDS", "0")


def test_sigkilled_worker_on_sqlite_loses_and_repeats_nothing(db_url, zero_delay, tmp_path):
    reset_caches()
    with Session(db.get_engine(), expire_on_commit=False) as session:
        _crash_and_recover(db_url, session, tmp_path)


@pytest.fixture
def pg_url(monkeypatch, zero_delay):
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}".splitlines()[0])
    name = f"care_jobs_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    from care_messaging.cli import migrate

    migrate(url)
    monkeypatch.setenv("DATABASE_URL", url)
    reset_caches()
    yield url
    db.get_engine().dispose()
    reset_caches()
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def test_sigkilled_worker_on_postgresql_loses_and_repeats_nothing(pg_url, tmp_path):
    with Session(db.get_engine(), expire_on_commit=False) as session:
        assert session.execute(text("select 1")).scalar() == 1
        _crash_and_recover(pg_url, session, tmp_path)
