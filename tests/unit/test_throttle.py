"""The account lock's fixed window, pruning of old throttle rows, and the per-address limiter
on both of its storages (memory, and Redis as when scaled out)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from care_messaging.models import LoginThrottle, utcnow
from care_messaging.services import throttle
from care_messaging.settings import get_settings
from care_messaging.web.login_limits import SourceLimiter


def test_lock_ends_a_window_after_the_first_failure_whatever_follows(session):
    settings = get_settings()
    window = timedelta(seconds=settings.login_lockout_seconds)
    start = utcnow()
    row = throttle.throttle_row(session, "x@test.care", start)
    for i in range(settings.login_max_failures + 20):  # failures keep coming during the lock
        throttle.register_failure(row, start + timedelta(seconds=i))
    assert row.locked_until == start + window
    assert throttle.is_locked(row, start + window - timedelta(seconds=1))
    assert not throttle.is_locked(row, start + window)


def test_prune_drops_only_rows_whose_window_and_lock_are_over(session):
    now = utcnow()
    window = timedelta(seconds=get_settings().login_lockout_seconds)
    session.add(LoginThrottle(key="old", failures=1, window_started_at=now - 2 * window))
    session.add(LoginThrottle(key="fresh", failures=1, window_started_at=now))
    session.add(LoginThrottle(key="locked", failures=5, window_started_at=now - 2 * window,
                              locked_until=now + window))
    session.commit()
    assert throttle.prune(session, now) == 1
    session.commit()
    assert set(session.exec(select(LoginThrottle.key)).all()) == {"fresh", "locked"}


@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:6379"])
def test_source_limiter_blocks_after_the_limit_per_address(redis_url):
    async def run() -> tuple[bool, bool]:
        limiter = SourceLimiter("3 per 10 minutes", redis_url)
        address, other = f"10.9.{uuid.uuid4().int % 250}.1", f"10.8.{uuid.uuid4().hex[:4]}"
        for _ in range(3):
            assert not await limiter.blocked(address)
            await limiter.failed(address)
        return await limiter.blocked(address), await limiter.blocked(other)

    blocked, other_blocked = asyncio.run(run())
    assert blocked and not other_blocked


def test_no_write_lock_is_held_while_the_password_is_hashed(session, db_url, monkeypatch):
    """SQLite has one writer: a sign-in that held it during argon2 made every message send of
    the app wait (bench login_storm: delivery p50 of 74 s). While the hash runs, another
    connection must be able to write at once."""
    import sqlite3

    from care_messaging.services import auth
    from care_messaging.services.errors import AuthenticationError
    from tests.factories import make_user

    user = make_user(session, role="patient", name="Pat")
    session.commit()
    real_verify, real_burn = auth.verify_and_update, auth.burn_verification_time
    writable: list[bool] = []

    def another_connection_can_write() -> None:
        other = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            writable.append(True)
        except sqlite3.OperationalError:
            writable.append(False)
        finally:
            other.close()

    def verify(password: str, stored: str):
        another_connection_can_write()
        return real_verify(password, stored)

    def burn(password: str) -> None:
        another_connection_can_write()
        real_burn(password)

    monkeypatch.setattr(auth, "verify_and_update", verify)
    monkeypatch.setattr(auth, "burn_verification_time", burn)
    for email in (user.email, user.email, "nobody@test.care", "nobody@test.care"):
        with pytest.raises(AuthenticationError):
            auth.login(session, email=email, password="wrong")
        session.commit()  # the caller's unit keeps a counted failure (``keep_on_error``)
    assert writable == [True] * 4
