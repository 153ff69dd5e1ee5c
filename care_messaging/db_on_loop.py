"""One-statement reads awaited on the event loop, through psycopg's async API (PostgreSQL).

Every event a tab sends checks its session: one SELECT. Run in the database thread pool
(``offloop.run_db``) that check cost a worker ~450 µs of CPU on this 2-core VM, of which about
half was the hop to the thread and back around the network wait; awaited here on psycopg's
async connection it costs ~150 µs (bench/profiles/scaleout.md). The loop never waits: the
network wait is an ``await``. Multi-statement work (a send, a follow-up) stays in the pool: the
services are synchronous, and one hop for a whole transaction is cheap beside its statements.

The connections: a few autocommit ``AsyncConnection``s per event loop (a server worker has one
loop; the in-process test clients start their own), kept idle between reads, at most
``POOL_SIZE`` in use. Not ``psycopg_pool``: its background tasks (filling, checking, reconnecting)
outlive the short event loops of the in-process test clients and kept their shutdown waiting;
one statement per use needs none of them. A connection that errs is closed, not kept.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg

from care_messaging.db import get_engine, libpq_conninfo
from care_messaging.services.hot_sql import HotStatement, converted

POOL_SIZE = 4
CONNECT_WAIT_SECONDS = 2.0


class _Connections:
    """Idle connections of one event loop to one database, and the slots in use."""

    def __init__(self) -> None:
        self.idle: list[psycopg.AsyncConnection[Any]] = []
        self.slots = asyncio.Semaphore(POOL_SIZE)


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Connections]]
_per_loop = weakref.WeakKeyDictionary()


def available() -> bool:
    """Whether the configured database is PostgreSQL (SQLite reads run inline: offloop)."""
    return get_engine().dialect.name == "postgresql"


@asynccontextmanager
async def _connection(conninfo: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    found = _per_loop.setdefault(asyncio.get_running_loop(), {})
    connections = found.get(conninfo) or found.setdefault(conninfo, _Connections())
    async with connections.slots:
        connection = (connections.idle.pop() if connections.idle else await asyncio.wait_for(
            psycopg.AsyncConnection.connect(
                conninfo, autocommit=True, cursor_factory=psycopg.AsyncRawCursor), CONNECT_WAIT_SECONDS))
        try:
            yield connection
        except BaseException:
            await connection.close()  # its state is unknown after an error
            raise
        if connection.closed or connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            await connection.close()
        else:
            connections.idle.append(connection)


async def close_idle() -> None:
    """Close this event loop's idle connections (a loop that ends: the tests' clients)."""
    for connections in _per_loop.get(asyncio.get_running_loop(), {}).values():
        while connections.idle:
            await connections.idle.pop().close()


async def first(statement: HotStatement, params: dict[str, Any]) -> Any:
    """The statement's first row (a named tuple, as ``HotStatement.execute(...).first()``
    gives it), or None."""
    engine = get_engine()
    compiled, bound = statement.bound(engine.dialect, params)
    async with _connection(libpq_conninfo(engine.url)) as connection:
        cursor = await connection.execute(compiled.sql, bound)
        row = await cursor.fetchone()
    return converted(compiled.result, compiled.row, row)
