"""Durable background jobs: scheduled, retried, at-least-once; every handler is idempotent.

Two backends behind one small interface (``enqueue`` in the caller's transaction, handlers
registered by name):

- **embedded** (SQLite, the default): a ``jobs`` table in the same database, run by a thread in
  the app process (``embedded.Runner``). A job is claimed by one atomic UPDATE with a lease; a
  worker killed mid-job leaves it ``running`` until the lease ends, then another run takes it.
- **PostgreSQL** (scale-out): procrastinate (``pg.py``), a job library made for PostgreSQL:
  jobs are deferred through its SQL function *in our transaction* (so a message and its
  notification job commit together), and any number of workers claim them with row locks.

Handlers are plain functions ``handler(args: dict) -> None`` that open their own sessions;
they must be safe to run twice (a job can run again after a crash), which is why emails are
claimed under a unique key before they are sent (services/notifications.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

Handler = Callable[[dict], None]
HANDLERS: dict[str, Handler] = {}
MAX_ATTEMPTS = 8


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of jobs of ``kind``."""

    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


def load_handlers() -> dict[str, Handler]:
    """Every handler the app defines (importing their modules registers them)."""
    import care_messaging.services.notifications
    import care_messaging.services.triage  # noqa: F401

    return HANDLERS


def backend(dialect_name: str) -> str:
    return "procrastinate" if dialect_name == "postgresql" else "embedded"


def enqueue(session: Session, kind: str, args: dict, *, run_at: datetime,
            dedupe_key: str | None = None, earliest: bool = False) -> None:
    """Schedule a job in ``session``'s transaction (it exists only if that commits).

    ``dedupe_key``: while a job with this key is waiting, another one is not added.
    ``earliest`` (with a key): the waiting job runs at the earlier of its time and ``run_at``
    (one job per key that keeps the soonest time, not one row per call).
    """
    payload = json.dumps(args, sort_keys=True)
    if backend(session.get_bind().dialect.name) == "procrastinate":
        from care_messaging.jobs import pg

        pg.defer(session, kind, payload, run_at=run_at, dedupe_key=dedupe_key,
                 earliest=earliest)
    else:
        from care_messaging.jobs import embedded

        embedded.enqueue(session, kind, payload, run_at=run_at, dedupe_key=dedupe_key,
                         earliest=earliest)
