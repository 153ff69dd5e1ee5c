"""The embedded job runner: waiting jobs deduplicated by key, retries with backoff, and several
runners on one database never running one job twice."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import select

from care_messaging import db, jobs
from care_messaging.jobs.embedded import Runner
from care_messaging.models import Job, utcnow

ran: list[int] = []
_lock = threading.Lock()
_failures: dict[int, int] = {}


@jobs.handler("test_record")
def _record(args: dict) -> None:
    with _lock:
        ran.append(args["n"])


@jobs.handler("test_flaky")
def _flaky(args: dict) -> None:
    _failures[args["n"]] = _failures.get(args["n"], 0) + 1
    if _failures[args["n"]] == 1:
        raise RuntimeError("SMTP server unavailable")


def test_a_waiting_job_absorbs_another_with_its_key(session):
    for _ in range(3):
        jobs.enqueue(session, "test_record", {"n": 1}, run_at=utcnow(), dedupe_key="k")
    session.commit()
    assert len(session.exec(select(Job)).all()) == 1
    Runner(db.get_engine()).run_until_idle()
    # Once it has run, the key is free again.
    jobs.enqueue(session, "test_record", {"n": 1}, run_at=utcnow(), dedupe_key="k")
    session.commit()
    assert len(session.exec(select(Job)).all()) == 2


def test_a_failing_job_is_retried_later(session):
    jobs.enqueue(session, "test_flaky", {"n": 7}, run_at=utcnow())
    session.commit()
    runner = Runner(db.get_engine())
    assert runner.run_until_idle() == 1
    session.expire_all()
    job = session.exec(select(Job)).one()
    assert (job.status, job.attempts) == ("queued", 1)
    assert job.run_at > utcnow() and "SMTP server unavailable" in job.last_error
    assert runner.run_until_idle() == 0  # not before its backoff
    session.execute(update(Job).values(run_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert runner.run_until_idle() == 1
    session.expire_all()
    assert session.exec(select(Job)).one().status == "done"


def test_two_runners_run_each_job_once(session):
    ran.clear()
    for n in range(40):
        jobs.enqueue(session, "test_record", {"n": n}, run_at=utcnow())
    session.commit()
    runners = [Runner(db.get_engine()) for _ in range(2)]
    threads = [threading.Thread(target=r.run_until_idle) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(ran) == list(range(40))
