"""The embedded job runner: a ``jobs`` table in the app's own (SQLite) database.

At-least-once: a job is claimed by one atomic ``UPDATE ... RETURNING`` that sets a lease
(``locked_until``); it is marked done only after its handler returned. A worker killed
mid-job leaves the job ``running``; once the lease has passed any runner claims it again.
Several runners (processes) on one database are safe: SQLite runs each claim under its write
lock, so one job goes to one runner at a time. Failures retry with exponential backoff.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, func, or_, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from care_messaging.jobs import MAX_ATTEMPTS, load_handlers, periodic
from care_messaging.models import Job, table_of, utcnow
from care_messaging.services.hot_sql import HotStatement

log = logging.getLogger(__name__)

_jobs = table_of(Job)
_c = _jobs.c
# One statement on every message sent: a waiting job with the same key absorbs it.
_ENQUEUE = HotStatement(
    sqlite.insert(_jobs).on_conflict_do_nothing(
        index_elements=["dedupe_key"], index_where=text("status = 'queued'")))
_insert = sqlite.insert(_jobs)
# The same, keeping one waiting job per key at the earlier of the two times.
_ENQUEUE_EARLIEST = HotStatement(
    _insert.on_conflict_do_update(
        index_elements=["dedupe_key"], index_where=text("status = 'queued'"),
        set_={"run_at": func.min(_c.run_at, _insert.excluded.run_at)}))
_DUE = (
    select(_c.id)
    .where(or_(and_(_c.status == "queued", _c.run_at <= bindparam("now")),
               and_(_c.status == "running", _c.locked_until < bindparam("now"))))
    .order_by(_c.run_at, _c.id)
    .limit(1)
    .scalar_subquery()
)
_CLAIM = (
    update(_jobs)
    .where(_c.id == _DUE)
    .values(status="running", locked_by=bindparam("worker"), locked_until=bindparam("lease"),
            attempts=_c.attempts + 1)
    .returning(_c.id, _c.kind, _c.args, _c.attempts, _c.max_attempts)
)
DONE_KEPT_FOR = timedelta(days=7)


def enqueue(session: Session, kind: str, payload: str, *, run_at: datetime,
            dedupe_key: str | None, earliest: bool = False) -> None:
    statement = _ENQUEUE_EARLIEST if earliest and dedupe_key else _ENQUEUE
    statement.execute(session, {
        "kind": kind, "args": payload, "status": "queued", "run_at": run_at, "attempts": 0,
        "max_attempts": MAX_ATTEMPTS, "locked_by": "", "dedupe_key": dedupe_key,
        "last_error": "", "created_at": utcnow()}, by_columns=True)


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... at most an hour between tries."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


class Runner:
    """Claims due jobs and runs them, one at a time, on the calling thread."""

    def __init__(self, engine: Engine, *, lease_seconds: int = 120,
                 poll_seconds: float = 1.0) -> None:
        self.engine = engine
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.handlers = load_handlers()
        self._last_periodic = 0.0

    def _claim(self):
        now = utcnow()
        with Session(self.engine) as session:
            row = session.execute(_CLAIM, {"now": now, "worker": self.worker,
                                           "lease": now + self.lease}).first()
            session.commit()
        return row

    def _finish(self, job_id: int, **values) -> None:
        with Session(self.engine) as session:
            try:
                session.execute(update(_jobs).where(_c.id == job_id, _c.locked_by == self.worker)
                                .values(locked_until=None, **values))
                session.commit()
            except IntegrityError:
                # Back to "queued" while another job with its key waits: that one covers it
                # (jobs with one key are interchangeable).
                session.rollback()
                session.execute(update(_jobs).where(_c.id == job_id).values(
                    status="done", finished_at=utcnow(), locked_until=None,
                    last_error="superseded by a waiting job with the same key"))
                session.commit()

    def run_one(self) -> bool:
        """Claim and run one due job; False when none was due."""
        import json

        row = self._claim()
        if row is None:
            return False
        handler = self.handlers.get(row.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {row.kind!r}")
            handler(json.loads(row.args))
        except Exception as error:
            log.exception("job %s (%s) failed on attempt %s", row.id, row.kind, row.attempts)
            if row.attempts >= row.max_attempts:
                self._finish(row.id, status="failed", finished_at=utcnow(),
                             last_error=repr(error)[:500])
            else:
                self._finish(row.id, status="queued", run_at=utcnow() + backoff(row.attempts),
                             last_error=repr(error)[:500])
            return True
        self._finish(row.id, status="done", finished_at=utcnow(), last_error="")
        return True

    def run_until_idle(self, limit: int = 1000) -> int:
        """Run due jobs until none is left (or ``limit``); how many ran."""
        ran = 0
        while ran < limit and self.run_one():
            ran += 1
        return ran

    def tick(self) -> int:
        """One pass: keep the periodic jobs scheduled (every 30 s), run what is due."""
        if time.monotonic() - self._last_periodic > 30:
            self._last_periodic = time.monotonic()
            with Session(self.engine) as session:
                periodic.ensure_scheduled(session)
                session.execute(delete(_jobs).where(_c.status == "done",
                                                    _c.finished_at < utcnow() - DONE_KEPT_FOR))
                session.commit()
        return self.run_until_idle()

    def run_forever(self, stop: threading.Event) -> None:
        log.info("job runner %s started", self.worker)
        while not stop.is_set():
            try:
                self.tick()
            except OperationalError as error:  # a locked or briefly unavailable database
                log.warning("job runner: %s", str(error).splitlines()[0])
            except Exception:
                log.exception("job runner pass failed")
            stop.wait(self.poll_seconds)


def start_thread(engine: Engine, *, lease_seconds: int, poll_seconds: float
                 ) -> tuple[threading.Thread, threading.Event]:
    """The in-app runner: a daemon thread (handlers do database and SMTP work, which must not
    run on the event loop that carries every websocket)."""
    stop = threading.Event()
    runner = Runner(engine, lease_seconds=lease_seconds, poll_seconds=poll_seconds)
    thread = threading.Thread(target=runner.run_forever, args=(stop,), name="care-jobs",
                              daemon=True)
    thread.start()
    return thread, stop
