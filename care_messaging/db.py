"""Database engine and sessions for the services layer (no Reflex import here).

SQLite runs in WAL mode with foreign keys on and a busy timeout, so readers never block the
writer and concurrent senders wait instead of failing. WAL checkpoints (copying the log back
into the database file, with an fsync) run on a background thread, not inside a commit: done
by whichever commit crosses the threshold they stalled that request for 50-150 ms on the
1M-message bench database (the delivery p99 went from 28 ms to 85 ms).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import Session, create_engine

from care_messaging import unit_of_work
from care_messaging.settings import get_settings

log = logging.getLogger(__name__)
AUTOCHECKPOINT_PAGES = 20_000
CHECKPOINT_EVERY_SECONDS = 1.0
POOL_RECYCLE_SECONDS = 30 * 60  # PostgreSQL: see make_engine


def _configure_sqlite(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # A safety net only (80 MB of log): the checkpointer thread keeps the log far below it.
    cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    cursor.close()


class _Checkpointer:
    """One daemon thread that checkpoints every SQLite database file this process uses.

    PASSIVE checkpoints never wait for readers or the writer; the sqlite3 module releases the
    GIL while SQLite copies and syncs, so the event loop keeps running meanwhile.
    """

    def __init__(self) -> None:
        self._paths: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, path: str) -> None:
        with self._lock:
            self._paths.add(path)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sqlite-checkpointer",
                                                daemon=True)
                self._thread.start()

    def checkpoint_all(self) -> None:
        with self._lock:
            paths = list(self._paths)
        for path in paths:
            try:
                # mode=rw: a database deleted meanwhile (tests) is dropped, never re-created.
                connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0.5)
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    connection.close()
            except sqlite3.Error as error:
                log.debug("checkpoint of %s skipped: %s", path, error)
                with self._lock:
                    self._paths.discard(path)

    def _run(self) -> None:
        while True:
            time.sleep(CHECKPOINT_EVERY_SECONDS)
            self.checkpoint_all()


checkpointer = _Checkpointer()


def make_engine(url: str) -> Engine:
    """Create an engine with the pragmas and pool settings this app relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _configure_sqlite)
        if engine.url.database and engine.url.database != ":memory:":
            checkpointer.watch(engine.url.database)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    # No pool_pre_ping: it is a SELECT 1 round trip on every checkout, i.e. before every
    # transaction of every event (1.7% of a scale-out worker's samples; bench/profiles/
    # loop.md). A connection PostgreSQL dropped (a restart, a failover) fails the one
    # transaction that meets it, and SQLAlchemy then discards the whole pool on that
    # disconnect error, so the next transaction connects afresh; pool_recycle retires
    # connections before an idle timeout of a proxy or firewall can cut them silently.
    return create_engine(url, pool_pre_ping=False, pool_recycle=POOL_RECYCLE_SECONDS,
                         pool_size=10, max_overflow=20)


def libpq_conninfo(url: str | URL) -> str:
    """libpq's form of a PostgreSQL database URL as the app writes it for SQLAlchemy
    (``postgresql+psycopg://``), for connecting with psycopg directly."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@functools.lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine for the configured DATABASE_URL."""
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work: the only commit of what the services did (they never commit).

    Commits on success and rolls back on any error, except an ``Exception`` from a service
    that marked its work to stand (``unit_of_work.keep_on_error``: a counted failed sign-in).
    """
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except Exception:
            if unit_of_work.should_keep(session):
                session.commit()
            else:
                session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise


@functools.lru_cache(maxsize=4)
def _statement_commits(engine: Engine) -> Engine:
    """The same engine and pool, its connections in autocommit while checked out."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


@contextmanager
def check_scope() -> Iterator[Session]:
    """A unit of work that reads and at most writes a row that stands on its own: the session
    check every event makes. On PostgreSQL each statement commits by itself, so a check is one
    round trip instead of three (BEGIN, the query, COMMIT); its rare writes (the activity
    touch, an idle session's revocation and its audit row) each commit as they are made, which
    is what they need anyway. On SQLite a transaction costs no round trip: ``session_scope``.
    """
    engine = get_engine()
    if engine.dialect.name == "sqlite":
        with session_scope() as session:
            yield session
        return
    with Session(_statement_commits(engine), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()  # flushes what is pending; the domain events' hooks run as usual
        except Exception:
            if unit_of_work.should_keep(session):  # a revoked session stays revoked
                session.commit()
            raise
