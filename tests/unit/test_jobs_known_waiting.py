"""On PostgreSQL a waiting job this process has seen is not looked up again before it can
run (jobs/pg.py ``_known_waiting``): the unread-email job of a busy conversation costs one
lookup, not one per message; once its time is near, it is looked up again. A fresh database
on 127.0.0.1 (skipped where there is none)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, text
from sqlmodel import Session

from care_messaging import db, jobs
from care_messaging.jobs import pg
from tests.unit.test_jobs_crash import pg_url, zero_delay  # noqa: F401  (fixtures)


def _lookups_of(engine, enqueue) -> int:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if "FROM procrastinate_jobs WHERE queueing_lock" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        enqueue()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_a_seen_waiting_job_is_not_looked_up_again_until_near_its_time(pg_url,  # noqa: F811
                                                                         monkeypatch):
    engine = db.get_engine()
    pg._known_waiting.clear()
    key = "notify:known-waiting-test"
    later = datetime.now(UTC) + timedelta(minutes=5)

    def enqueue() -> None:
        with Session(engine) as session:
            jobs.enqueue(session, "test_known", {"n": 1}, run_at=later, dedupe_key=key)
            session.commit()

    assert _lookups_of(engine, enqueue) == 1  # none waiting yet: looked up, deferred
    assert _lookups_of(engine, enqueue) == 1  # found waiting, and remembered
    assert _lookups_of(engine, enqueue) == 0  # known: no round trip
    with Session(engine) as session:
        assert session.execute(text("SELECT count(*) FROM procrastinate_jobs "
                                    "WHERE queueing_lock = :k"), {"k": key}).scalar() == 1
    # Within the margin of its time the job may be about to run: looked up again.
    pg._known_waiting[key] = datetime.now(UTC) + pg.KNOWN_WAITING_MARGIN / 2
    assert _lookups_of(engine, enqueue) == 1


def test_a_job_deferred_in_a_rolled_back_transaction_is_not_remembered(pg_url):  # noqa: F811
    engine = db.get_engine()
    pg._known_waiting.clear()
    key = "notify:rolled-back-test"
    later = datetime.now(UTC) + timedelta(minutes=5)
    with Session(engine) as session:
        jobs.enqueue(session, "test_known", {"n": 1}, run_at=later, dedupe_key=key)
        session.rollback()
    assert key not in pg._known_waiting
    with Session(engine) as session:
        jobs.enqueue(session, "test_known", {"n": 1}, run_at=later, dedupe_key=key)
        session.commit()
        assert session.execute(text("SELECT count(*) FROM procrastinate_jobs "
                                    "WHERE queueing_lock = :k"), {"k": key}).scalar() == 1
