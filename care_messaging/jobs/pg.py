"""Jobs on PostgreSQL (scale-out): procrastinate.

Why procrastinate: it is made for exactly this database (jobs are rows claimed with
``FOR UPDATE SKIP LOCKED``, workers are woken by LISTEN/NOTIFY, retries and cron-like periodic
jobs are built in, and a worker that died is detected by its missing heartbeat), it runs on
psycopg 3 like the app, and it needs no second server. Deferring goes through its SQL
function on *our* connection, inside the caller's transaction: a message and the job that
may email about it commit together or not at all.
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from care_messaging.jobs import MAX_ATTEMPTS, load_handlers, periodic
from care_messaging.settings import get_settings

log = logging.getLogger(__name__)

QUEUE = "care"
_WAITING = text("SELECT scheduled_at FROM procrastinate_jobs WHERE queueing_lock = :lock "
                "AND status = 'todo' LIMIT 1")
# A waiting job of this key brought forward to the earlier time (``earliest``).
# (LEAST skips a NULL, which means "now": such a job keeps it.)
_BRING_FORWARD = text(
    "UPDATE procrastinate_jobs SET scheduled_at = CASE WHEN scheduled_at IS NULL THEN NULL "
    "ELSE LEAST(scheduled_at, :at) END "
    "WHERE queueing_lock = :lock AND status = 'todo' RETURNING id")
_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, :lock, "
    "CAST(:args AS jsonb), :at)::procrastinate_job_to_defer_v1])")


# Waiting jobs this process has seen, by key: when each runs. A job does not run before its
# time, so until then another lookup would only find it again (the unread-email job is looked
# up by every message of its conversation: one round trip per send saved for ~4 minutes of
# every 5). Only committed rows are remembered (a lookup sees no uncommitted job of another
# transaction, and one transaction defers a key at most once); the margin covers a database
# clock ahead of ours.
_known_waiting: dict[str, datetime] = {}
KNOWN_WAITING_MARGIN = timedelta(seconds=60)
_KNOWN_WAITING_MAX = 50_000


def _still_waiting(dedupe_key: str) -> bool:
    runs_at = _known_waiting.get(dedupe_key)
    if runs_at is None:
        return False
    if datetime.now(UTC) < runs_at - KNOWN_WAITING_MARGIN:
        return True
    _known_waiting.pop(dedupe_key, None)
    return False


def _remember_waiting(dedupe_key: str, runs_at: datetime | None) -> None:
    if runs_at is None:  # "now": it may run at any moment
        return
    if len(_known_waiting) >= _KNOWN_WAITING_MAX:
        _known_waiting.clear()
    _known_waiting[dedupe_key] = runs_at if runs_at.tzinfo else runs_at.replace(tzinfo=UTC)


def defer(session: Session, kind: str, payload: str, *, run_at: datetime,
          dedupe_key: str | None, earliest: bool = False) -> None:
    """Add a procrastinate job in ``session``'s transaction; its queueing lock is the dedupe
    key (procrastinate keeps at most one waiting job per lock). ``earliest``: a waiting job
    of this key runs at the earlier of its time and ``run_at``."""
    if dedupe_key and earliest:
        if session.execute(_BRING_FORWARD, {"lock": dedupe_key, "at": run_at}).first():
            return
    elif dedupe_key:
        if _still_waiting(dedupe_key):
            return
        waiting = session.execute(_WAITING, {"lock": dedupe_key}).first()
        if waiting is not None:
            _remember_waiting(dedupe_key, waiting[0])
            return
    params = {"queue": QUEUE, "task": kind, "lock": dedupe_key, "args": payload, "at": run_at}
    try:
        with session.begin_nested():  # a racing duplicate must not abort the caller's change
            session.execute(_DEFER, params)
    except IntegrityError:
        log.debug("job %s already waiting", dedupe_key)


def schema_installed(connection) -> bool:
    return connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is not None


def install_schema(url: str) -> None:
    """Create procrastinate's tables and functions (once) in the app's database."""
    import psycopg
    from procrastinate import schema

    url = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as connection:
        found = connection.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        if found and found[0] is not None:
            return
        connection.execute(schema.SchemaManager.get_schema())


@functools.cache
def make_app(url: str):
    """The procrastinate app with every handler as a task and the periodic jobs."""
    import procrastinate

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    retry = procrastinate.RetryStrategy(max_attempts=MAX_ATTEMPTS, exponential_wait=5)
    for kind, handler in load_handlers().items():
        def run(_handler=handler, **kwargs) -> None:
            kwargs.pop("timestamp", None)  # added by procrastinate to periodic jobs
            _handler(kwargs)

        run.__name__ = kind
        task = app.task(name=kind, queue=QUEUE, retry=retry)(run)
        if kind == periodic.REMINDER_SWEEP:
            app.periodic(cron=f"*/{periodic.REMINDER_SWEEP_MINUTES} * * * *",
                         periodic_id=kind)(task)
        elif kind == periodic.DAILY_DIGEST:
            app.periodic(cron=f"0 {get_settings().digest_hour_utc} * * *",
                         periodic_id=kind)(task)

    # A worker killed mid-job stops sending heartbeats; its jobs go back to the queue
    # (procrastinate's documented recipe for stalled jobs).
    @app.periodic(cron="* * * * *", periodic_id="retry_stalled")
    @app.task(name="retry_stalled_jobs", queue=QUEUE, queueing_lock="retry_stalled_jobs")
    async def retry_stalled_jobs(timestamp: int) -> None:
        await retry_stalled(app)

    return app


async def retry_stalled(app) -> int:
    """Put the jobs of workers whose heartbeat stopped (killed) back in the queue."""
    stalled = list(await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=get_settings().job_lease_seconds))
    for job in stalled:
        await app.job_manager.retry_job(job)
    return len(stalled)


async def run_worker(url: str, *, concurrency: int = 1) -> None:
    """Run a procrastinate worker until cancelled (in the app process or ``cli jobs``).

    One job at a time per worker (scale by running more workers): a worker killed mid-job
    then has at most one email in flight, the one whose SMTP conversation it was in."""
    app = make_app(url)
    lease = get_settings().job_lease_seconds
    async with app.open_async():
        if retried := await retry_stalled(app):
            log.warning("%s jobs of a stopped worker queued again", retried)
        await app.run_worker_async(
            queues=[QUEUE], concurrency=concurrency, install_signal_handlers=False,
            # A worker that stops sending heartbeats for a lease is taken as dead.
            update_heartbeat_interval=max(lease / 4, 0.5), stalled_worker_timeout=lease)
