"""Statements run on the DBAPI cursor behave as Session.execute does: same stored values, same
errors, in the session's transaction. On SQLite and (when it answers) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from care_messaging import db
from care_messaging.models import AuditEvent, AuthSession, User
from care_messaging.services.hot_sql import HotStatement, StaleResult, together
from tests.factories import clinic
from tests.unit.test_messages import pg_engine  # noqa: F401 - fixture

_users = User.__table__.c
_INSERT_USER = HotStatement(insert(User.__table__))
_SEEN = HotStatement(select(AuthSession.id, AuthSession.last_seen_at, User.is_active, User.role)
                     .join(User, User.id == AuthSession.user_id)
                     .where(AuthSession.id == bindparam("b_id")))
_TOUCH = HotStatement(update(AuthSession.__table__)
                      .where(AuthSession.__table__.c.id == bindparam("b_id"))
                      .values(last_seen_at=bindparam("b_at")))


def _new_user(email: str) -> dict:
    return {"email": email, "display_name": "Hot Path", "role": "patient", "password_hash": "x",
            "is_active": True, "totp_required": False, "totp_enabled": False,
            "totp_secret_ct": None, "totp_key_id": "", "created_at": datetime.now(UTC)}


def _check(engine) -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, 0, tzinfo=UTC)  # no microseconds: the format is fixed
    with Session(engine, expire_on_commit=False) as session:
        people = clinic(session)
        auth = AuthSession(token_hash="h" * 64, user_id=people["maria"].user_id,
                           expires_at=at, last_seen_at=at)
        session.add(auth)  # pending: the hot statement flushes it first, as execute would
        _TOUCH.execute(session, {"b_id": None, "b_at": at})  # flushes, changes nothing
        assert auth.id is not None
        _TOUCH.execute(session, {"b_id": auth.id, "b_at": at})
        row = _SEEN.execute(session, {"b_id": auth.id}).first()
        # Read back through the column types: an aware datetime, a bool, the role's text.
        assert row.last_seen_at == at and row.is_active is True and row.role == "patient"
        session.commit()
        session.expire_all()
        # The ORM reads exactly what the hot statement stored.
        assert session.get(AuthSession, auth.id).last_seen_at == at

        # A duplicate key raises SQLAlchemy's IntegrityError, as Session.execute does.
        _INSERT_USER.execute(session, _new_user("hot@example.org"), by_columns=True)
        with pytest.raises(IntegrityError):
            _INSERT_USER.execute(session, _new_user("hot@example.org"), by_columns=True)
        session.rollback()
        # It ran in the session's transaction: the rollback took the first insert too.
        assert session.exec(select(User).where(User.email == "hot@example.org")).first() is None

        # A statement that names fewer columns than the table has gets its own compilation.
        before = session.exec(select(AuditEvent)).all()
        HotStatement(insert(AuditEvent.__table__)).execute(session, by_columns=True, params={
            "at": at, "actor_user_id": None, "actor_label": "", "action": "hot",
            "object_type": "", "object_id": "", "patient_id": None, "outcome": "success",
            "client_ip": "", "detail": ""})
        session.commit()
        assert len(session.exec(select(AuditEvent)).all()) == len(before) + 1


def test_hot_statements_on_sqlite(db_url):
    _check(db.get_engine())


def test_hot_statements_on_postgresql(pg_engine):  # noqa: F811
    _check(pg_engine)


def _two_reads(engine) -> None:
    """``together``: reads that do not depend on each other give the rows each would give
    alone; and a result read after its connection ran the next statement is refused."""
    with Session(engine, expire_on_commit=False) as session:
        people = clinic(session)
        session.commit()
        ids = {"b_one": people["maria"].user_id, "b_two": people["lee"].user_id}
        one = HotStatement(select(User.id, User.email).where(User.id == bindparam("b_one")))
        two = HotStatement(select(User.id, User.role).where(User.id == bindparam("b_two")))
        alone = [one.execute(session, ids).all(), two.execute(session, ids).all()]
        assert together(session, (one, ids), (two, ids)) == alone
        assert alone[0][0].email == people["maria"].email and alone[1][0].role == "provider"
        assert together(session, (one, {"b_one": -1})) == [[]]
        first = one.execute(session, ids)
        two.execute(session, ids).all()
        if engine.dialect.name == "postgresql":  # one reused cursor per connection there
            with pytest.raises(StaleResult):
                first.first()
        else:  # a cursor per statement on SQLite: still its own rows
            assert first.first().email == people["maria"].email


def test_reads_together_on_sqlite(db_url):
    _two_reads(db.get_engine())


def test_reads_together_on_postgresql(pg_engine):  # noqa: F811
    _two_reads(pg_engine)
