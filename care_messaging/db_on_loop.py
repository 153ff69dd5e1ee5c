"""One-statement reads awaited on the event loop, through psycopg's async API (PostgreSQL).

Every event a tab sends checks its session: one SELECT. Run in the database thread pool
(``offloop.run_db``) that check cost a worker ~450 µs of CPU on this 2-core VM, of which about
half was the hop to the thread and back around the network wait; awaited here on psycopg's
async connection it costs ~150 µs (bench/profiles/scaleout.md). The loop never waits: the
network wait is an ``await``. Multi-statement work (a send, a follow-up) stays in the pool: the
services are synchronous, and one hop for a whole transaction is cheap beside its statements.

The pool is psycopg's own (``psycopg_pool``), one per event loop (a server worker has one; the
in-process test clients start their own), in autocommit: a read needs no transaction.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from psycopg_pool import AsyncConnectionPool

from care_messaging.db import get_engine
from care_messaging.services.hot_sql import HotStatement, converted

POOL_SIZE = 4
CONNECT_WAIT_SECONDS = 2.0

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncConnectionPool]]
_pools = weakref.WeakKeyDictionary()
_opening: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
_opening = weakref.WeakKeyDictionary()


def available() -> bool:
    """Whether the configured database is PostgreSQL (SQLite reads run inline: offloop)."""
    return get_engine().dialect.name == "postgresql"


async def _pool(conninfo: str) -> AsyncConnectionPool:
    loop = asyncio.get_running_loop()
    per_loop = _pools.setdefault(loop, {})
    pool = per_loop.get(conninfo)
    if pool is not None:
        return pool
    async with _opening.setdefault(loop, asyncio.Lock()):
        pool = per_loop.get(conninfo)
        if pool is None:
            # A connection not had within CONNECT_WAIT_SECONDS fails the read, and the
            # caller falls back to the database pool's path (which meets the same server).
            pool = AsyncConnectionPool(conninfo, min_size=1, max_size=POOL_SIZE,
                                       kwargs={"autocommit": True}, open=False,
                                       name="care-on-loop", timeout=CONNECT_WAIT_SECONDS)
            await pool.open(wait=False)
            per_loop[conninfo] = pool
    return pool


async def first(statement: HotStatement, params: dict[str, Any]) -> Any:
    """The statement's first row (a named tuple, as ``HotStatement.execute(...).first()``
    gives it), or None."""
    engine = get_engine()
    compiled, bound = statement.bound(engine.dialect, params)
    conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    async with (await _pool(conninfo)).connection() as connection:
        cursor = await connection.execute(compiled.sql, bound)
        row = await cursor.fetchone()
    return converted(compiled.result, compiled.row, row)
