"""The session check's unit of work on PostgreSQL (db.check_scope): one round trip per check,
no BEGIN/COMMIT around it, and what it must write (an idle session's revocation and its audit
row, the activity touch) still stands. Against the real PostgreSQL on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from care_messaging import db
from care_messaging.models import AuditEvent, AuthSession
from care_messaging.services import auth
from care_messaging.services.errors import SessionEndedError
from care_messaging.settings import get_settings
from tests.factories import make_provider
from tests.unit.test_auth import _sign_in
from tests.unit.test_messages import pg_engine  # noqa: F401 - fixture


def _signed_in(engine, name: str = "Dr. Check") -> str:
    """A provider called ``name``, signed in: the session token."""
    with Session(engine, expire_on_commit=False) as session:
        user, _provider = make_provider(session, name)
        session.commit()
        token = _sign_in(session, user.email)
        session.commit()
        return token


@pytest.mark.parametrize("scope", [db.check_scope, pytest.param(
    db.session_scope, marks=pytest.mark.xfail(strict=True, reason="the control: in a transaction"))])
def test_a_session_check_runs_outside_a_transaction(pg_engine, scope):  # noqa: F811
    token = _signed_in(pg_engine)
    with scope() as session:
        actor = auth.resolve_session(session, token=token, touch=False)
        in_transaction = session.connection().connection.driver_connection.info.transaction_status
    assert actor.display_name == "Dr. Check"
    import psycopg

    # Autocommit: after the query the connection is not inside a transaction (the server saw
    # no BEGIN, and no COMMIT round trip follows). In session_scope it would be INTRANS.
    assert in_transaction == psycopg.pq.TransactionStatus.IDLE


def test_an_idle_session_seen_by_the_check_stays_revoked_and_audited(pg_engine):  # noqa: F811
    token = _signed_in(pg_engine)
    with Session(pg_engine) as session:
        row = session.exec(select(AuthSession)
                           .where(AuthSession.token_hash == auth.hash_token(token))).one()
        row.last_seen_at -= timedelta(seconds=get_settings().idle_timeout_seconds + 1)
        session.add(row)
        session.commit()
    with pytest.raises(SessionEndedError), db.check_scope() as session:
        auth.resolve_session(session, token=token)
    with Session(pg_engine) as session:
        row = session.exec(select(AuthSession)
                           .where(AuthSession.token_hash == auth.hash_token(token))).one()
        assert row.revoked_at is not None and row.revoked_reason == "idle"
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "session_timeout",
                                                     AuditEvent.object_id == str(row.id))).first()


def test_the_activity_touch_stands(pg_engine):  # noqa: F811
    token = _signed_in(pg_engine)
    with Session(pg_engine) as session:
        row = session.exec(select(AuthSession)
                           .where(AuthSession.token_hash == auth.hash_token(token))).one()
        row.last_seen_at -= auth.TOUCH_INTERVAL * 2
        session.add(row)
        session.commit()
        before = row.last_seen_at
    with db.check_scope() as session:
        auth.resolve_session(session, token=token, touch=True)
    with Session(pg_engine) as session:
        row = session.exec(select(AuthSession)
                           .where(AuthSession.token_hash == auth.hash_token(token))).one()
        assert row.last_seen_at > before
