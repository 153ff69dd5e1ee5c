"""Failed-attempt throttle per account (normalised email, unknown ones too).

A fixed window starts at the first failure. ``login_max_failures`` failures inside it lock the
account until the window ends, and nothing an attacker does during the lock moves that end: a
clinician locked out by someone else gets in with the right password as soon as the window is
over. (Before, every failed try pushed the lock later, so one request every few minutes kept a
clinician out for good.) The per-source-address limit lives in ``web/login_limits.py``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlmodel import Session

from care_messaging.models import LoginThrottle, table_of
from care_messaging.settings import get_settings

PRUNE_EVERY_SECONDS = 60.0
_last_prune = 0.0


def peek(session: Session, key: str) -> LoginThrottle | None:
    """The row if there is one (a read: no write lock taken)."""
    return session.get(LoginThrottle, key)


def throttle_row(session: Session, key: str, now: datetime) -> LoginThrottle:
    row = session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(key=key, failures=0, window_started_at=now)
        session.add(row)
    return row


def is_locked(row: LoginThrottle, now: datetime) -> bool:
    return row.locked_until is not None and row.locked_until > now


def register_failure(row: LoginThrottle, now: datetime) -> None:
    """Count one failure in the row's window; lock at the limit, until the window's end."""
    settings = get_settings()
    window = timedelta(seconds=settings.login_lockout_seconds)
    if row.failures == 0 or now - row.window_started_at >= window:
        row.failures = 0
        row.window_started_at = now
        row.locked_until = None
    row.failures += 1
    if row.failures >= settings.login_max_failures and row.locked_until is None:
        row.locked_until = row.window_started_at + window


def clear(row: LoginThrottle) -> None:
    row.failures = 0
    row.locked_until = None


def prune(session: Session, now: datetime, *, keep: str = "") -> int:
    """Delete rows whose window and lock are over: a spray of made-up emails otherwise leaves
    one row per address forever. ``keep``: the key the caller holds loaded (its row is about to
    be updated). Returns how many went."""
    window = timedelta(seconds=get_settings().login_lockout_seconds)
    table = table_of(LoginThrottle)
    result = session.execute(
        delete(table)
        .where(table.c.window_started_at < now - window)
        .where(or_(table.c.locked_until.is_(None), table.c.locked_until < now))
        .where(table.c.key != keep)
    )
    # A DELETE's result is a CursorResult; SQLModel's Session.execute types it as Result.
    return result.rowcount or 0  # type: ignore[attr-defined]


def maybe_prune(session: Session, now: datetime, *, keep: str = "") -> None:
    """``prune`` at most once a minute per process (called on the sign-in path)."""
    global _last_prune
    tick = time.monotonic()
    if tick - _last_prune < PRUNE_EVERY_SECONDS:
        return
    _last_prune = tick
    prune(session, now, keep=keep)
