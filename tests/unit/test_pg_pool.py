"""PostgreSQL's pool without pre-ping (care_messaging/db.py): no ``SELECT 1`` before every
transaction, and a connection the server dropped costs one failed transaction, after which
the pool connects afresh. Against the real PostgreSQL on 127.0.0.1."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from care_messaging.db import make_engine

PG_URL = os.environ.get("CARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def engine():
    psycopg = pytest.importorskip("psycopg")
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {str(exc).splitlines()[0]}")
    engine = make_engine(PG_URL)
    yield engine
    engine.dispose()


def test_a_transaction_is_not_preceded_by_a_ping(engine, monkeypatch):
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: statements.append(statement))
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping",
                        lambda connection: statements.append("ping") or real_ping(connection))
    for _ in range(3):
        with engine.connect() as connection:
            connection.execute(text("SELECT 42"))
    assert statements == ["SELECT 42"] * 3


def test_a_dropped_connection_fails_one_transaction_then_the_pool_reconnects(engine):
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    # The server ends that (now pooled, idle) connection, as a restart or failover would.
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(OperationalError), engine.connect() as connection:
        if connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid:
            pytest.skip("the pool handed out another connection first")
    with engine.connect() as connection:  # the pool was emptied on that disconnect
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
