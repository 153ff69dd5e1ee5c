"""``jobs.enqueue(..., earliest=True)``: one waiting job per key, kept at the soonest time
(the reply-by escalation's job per conversation), on SQLite and on PostgreSQL with
procrastinate (a fresh database on 127.0.0.1; skipped where there is none)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, select

from care_messaging import db, jobs
from care_messaging.models import Job
from tests.unit.test_jobs_crash import pg_url, zero_delay  # noqa: F401  (fixtures)

T0 = datetime(2100, 1, 4, 9, 0, tzinfo=UTC)


def _enqueue_three(session: Session) -> None:
    for at in (T0, T0 + timedelta(hours=2), T0 - timedelta(hours=1)):
        jobs.enqueue(session, "test_earliest", {"n": 1}, run_at=at, dedupe_key="k",
                     earliest=True)
        session.commit()
    # Without the flag a waiting job keeps its time.
    jobs.enqueue(session, "test_earliest", {"n": 1}, run_at=T0 - timedelta(hours=5),
                 dedupe_key="k")
    session.commit()


def test_sqlite_keeps_one_waiting_job_at_the_soonest_time(db_url):
    with Session(db.get_engine()) as session:
        _enqueue_three(session)
        rows = session.exec(select(Job).where(Job.kind == "test_earliest")).all()
    assert [r.run_at.replace(tzinfo=UTC) for r in rows] == [T0 - timedelta(hours=1)]


def test_postgresql_keeps_one_waiting_job_at_the_soonest_time(pg_url):  # noqa: F811
    with Session(db.get_engine()) as session:
        _enqueue_three(session)
        rows = session.execute(text(
            "SELECT scheduled_at FROM procrastinate_jobs WHERE queueing_lock = 'k'")).all()
    assert [r[0] for r in rows] == [T0 - timedelta(hours=1)]
