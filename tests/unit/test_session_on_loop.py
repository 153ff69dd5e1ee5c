"""The session check awaited on the event loop (PostgreSQL, psycopg's async API): the same
Actor as ``resolve_session`` for a valid session, and nothing decided on the loop for any
other case (unknown, handoff, revoked, timed out, disabled, a touch due): those go through
``resolve_session`` in the database pool, which raises, revokes or writes as before. Against
the real PostgreSQL on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlmodel import Session, select

from care_messaging.models import AuthSession, User
from care_messaging.services import auth
from care_messaging.services.errors import SecondStepPendingError, SessionEndedError
from care_messaging.settings import get_settings
from care_messaging.state import auth as state_auth
from care_messaging.web import offloop
from tests.unit.test_check_scope import _signed_in as signed_in
from tests.unit.test_messages import pg_engine  # noqa: F401 - fixture


@pytest.fixture(autouse=True)
async def _close_connections():
    """Each test runs on its own event loop: its idle connections end with it."""
    yield
    from care_messaging import db_on_loop

    await db_on_loop.close_idle()


def _signed_in(engine) -> str:
    return signed_in(engine, "Dr. Loop")


def _change(engine, token: str, change) -> None:
    with Session(engine) as session:
        row = session.exec(select(AuthSession)
                           .where(AuthSession.token_hash == auth.hash_token(token))).one()
        change(session, row)
        session.add(row)
        session.commit()


async def test_a_valid_session_gives_the_same_actor_as_the_pool_check(pg_engine):  # noqa: F811
    token = _signed_in(pg_engine)
    on_loop = await auth.resolve_session_on_loop(token=token, client_ip="10.0.0.9", touch=False)
    with Session(pg_engine) as session:
        in_pool = auth.resolve_session(session, token=token, client_ip="10.0.0.9", touch=False)
    assert on_loop == in_pool and on_loop.display_name == "Dr. Loop"


def _idle(_session, row) -> None:
    row.last_seen_at -= timedelta(seconds=get_settings().idle_timeout_seconds + 1)


def _absolute(_session, row) -> None:
    row.expires_at = row.created_at


def _revoked(_session, row) -> None:
    row.revoked_at, row.revoked_reason = row.last_seen_at, "logout"


def _touch_due(_session, row) -> None:
    row.last_seen_at -= auth.TOUCH_INTERVAL + timedelta(seconds=1)


def _disabled(session, row) -> None:
    user = session.get(User, row.user_id)
    user.is_active = False
    session.add(user)


@pytest.mark.parametrize("change", [_idle, _absolute, _revoked, _touch_due, _disabled])
async def test_anything_but_a_plain_valid_session_is_left_to_the_pool(pg_engine, change):  # noqa: F811
    token = _signed_in(pg_engine)
    _change(pg_engine, token, change)
    assert await auth.resolve_session_on_loop(token=token, touch=True) is None


async def test_unknown_tokens_are_left_to_the_pool(pg_engine):  # noqa: F811
    assert await auth.resolve_session_on_loop(token="no-such-token") is None
    assert await auth.resolve_session_on_loop(token="") is None


async def test_an_owed_second_step_is_refused_on_the_loop_too(pg_engine):  # noqa: F811
    token = _signed_in(pg_engine)

    def require_totp(session, row) -> None:
        user = session.get(User, row.user_id)
        user.totp_required = True
        session.add(user)

    _change(pg_engine, token, require_totp)
    with pytest.raises(SecondStepPendingError):
        await auth.resolve_session_on_loop(token=token, touch=False)
    assert (await auth.resolve_session_on_loop(token=token, touch=False,
                                               second_step_pending_ok=True)).must_enroll_totp


def _tab(token: str) -> SimpleNamespace:
    return SimpleNamespace(router=SimpleNamespace(
        headers=SimpleNamespace(cookie=f"{auth.SESSION_COOKIE}={token}"),
        session=SimpleNamespace(client_ip="10.0.0.9")))


async def test_a_tabs_event_checks_its_session_without_a_thread(pg_engine, monkeypatch):  # noqa: F811
    """What every event does (state/auth._resolve): a valid session never reaches the
    database threads; one that ended still does, and is refused there as before."""
    token = _signed_in(pg_engine)
    pooled: list[str] = []
    real_run_db = offloop.run_db

    async def counted(fn, *args, **kwargs):
        pooled.append(fn.__name__)
        return await real_run_db(fn, *args, **kwargs)

    monkeypatch.setattr(offloop, "run_db", counted)
    actor = await state_auth._resolve(_tab(token), touch=True, second_step_pending_ok=False)
    assert actor.display_name == "Dr. Loop" and pooled == []
    _change(pg_engine, token, _idle)
    with pytest.raises(SessionEndedError):
        await state_auth._resolve(_tab(token), touch=True, second_step_pending_ok=False)
    assert pooled == ["_check_session"]
    with Session(pg_engine) as session:  # the pool's check revoked it, as before
        row = session.exec(select(AuthSession)
                           .where(AuthSession.token_hash == auth.hash_token(token))).one()
        assert row.revoked_reason == "idle"
