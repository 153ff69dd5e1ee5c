"""Blocking work of the HTTP routes, run off the event loop in bounded thread pools.

The one worker's event loop carries every websocket: a route that hashes a password (argon2id,
19 MiB, ~30-60 ms of CPU here) or decrypts a 10 MB file on it stalls live messaging for
everyone (20 concurrent failed sign-ins took /api/health from 5 ms to 9.6 s). argon2-cffi and
the AES-GCM/SHA-256 code release the GIL, so a thread does the work while the loop goes on.
Sign-ins run in anyio's pool under a limiter of their own, and the argon2 computation itself
is handed from there to one dedicated thread at a lower CPU priority (nice 10, per thread on
Linux): under a storm of failed sign-ins the scheduler still gives the event loop its share of
the CPU, so signed-in users keep messaging while the attacker's hashes wait. Only the hash
(C code, the GIL released) runs at the low priority: a low-priority thread holding the GIL
through Python work would stall the loop instead. File work and session checks use anyio's
pool under a small limiter too.

Database work of the event handlers and the live path (``run_db``): on PostgreSQL every
statement is a network round trip (0.3-2 ms here, far more under load), so the handlers' and
the live path's transactions run in a bounded pool of their own (``DB_THREADS``, below the
engine's connection pool) while the loop serves the other sockets. On the SQLite default they
stay inline: a whole session check or send is 0.2-1 ms of mostly C code on a local file, and
the hop to a thread and back adds half as much again (a session check measured 225 us of CPU
inline against 348 us through this pool, 2,000 in a row on this 2-core VM), and two threads writing one SQLite file wait on each other's lock through the busy handler's
sleeps (the delivery p99 rose when the delivered marks ran in a thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import anyio
from anyio import to_thread

from care_messaging.services import passwords
from care_messaging.settings import get_settings

P = ParamSpec("P")
T = TypeVar("T")

# Sign-ins in flight (their database work), and one hash at a time (on a 2-core box the loop
# keeps a core) at a lower priority than the loop. Measured with bench login_storm on a loaded
# 2-core VM, delivery p50 under 20 failed sign-ins/s with the whole sign-in in the pool: 2
# threads at normal priority 19.7 s, 1 thread 7.8 s, 2 threads at nice 10 1.25 s, 1 thread at
# nice 10 0.87 s. (~20-25 hashes/s still fit on one idle core.)
SIGN_IN_THREADS = 2
HASH_THREADS = 1
HASH_NICE = 10
# More than this many sign-ins waiting: answer "busy" at once instead of queueing without end
# (a spread-out storm that the per-address limit does not catch).
SIGN_IN_MAX_WAITING = 64
# File decryption/hashing and the session checks of routes and the upload guard.
WORK_THREADS = 4
# Database transactions of handlers and live delivery when the database is a server
# (PostgreSQL): below the engine's pool (10 + 20 overflow) so the job worker and the routes
# always find a connection; enough that one slow statement does not queue the rest.
DB_THREADS = 8


class Busy(Exception):
    """Too much of this kind of work is already waiting."""


# One limiter per event loop (the server has one; in-process test clients start their own).
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, anyio.CapacityLimiter]]
_limiters = weakref.WeakKeyDictionary()


def _limiter(name: str, tokens: int) -> anyio.CapacityLimiter:
    per_loop = _limiters.setdefault(asyncio.get_running_loop(), {})
    if name not in per_loop:
        per_loop[name] = anyio.CapacityLimiter(tokens)
    return per_loop[name]


def _lower_priority() -> None:
    # os.setpriority on a thread id changes that thread only (Linux); elsewhere, or without
    # the right, the pool simply runs at normal priority.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICE)


_hash_pool = ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="password-hash",
                                initializer=_lower_priority)


# One hash slot per machine, not per worker. Each worker has its one low-priority hash
# thread, but N workers made N of them: in a storm of failed sign-ins two workers' hash
# threads took both cores of this 2-core box and the loops (and PostgreSQL, Redis) waited for
# a CPU (py-spy: 53% of the scale-out storm's samples in argon2; bench/profiles/loop.md). So
# the hash thread takes an exclusive ``flock`` on a file every worker of the machine shares
# (``Settings.hash_lock_path``, in the data directory the app owns: no stranger can hold it)
# around each hash. It waits there, in that thread, never on the loop; the kernel releases the
# lock when a worker dies. Without a usable file the hashes run unshared (logged once).
_hash_locks: dict[str, int | None] = {}  # lock file -> its descriptor (the hash thread's)


def _hash_lock_fd() -> int | None:
    path = get_settings().hash_lock_path
    if str(path) not in _hash_locks:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError:
            logging.getLogger(__name__).warning(
                "password hashing not shared between workers: cannot open %s", path,
                exc_info=True)
            fd = None
        _hash_locks[str(path)] = fd
    return _hash_locks[str(path)]


def _one_hash_per_machine(compute: Callable[[], T]) -> T:
    fd = _hash_lock_fd()
    if fd is None:
        return compute()
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        return compute()
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def run_hash(compute: Callable[[], T]) -> T:
    """Run one hash computation in the low-priority thread, in the machine's one hash slot,
    and wait for it (from a worker thread: the caller's thread blocks, the loop does not)."""
    return _hash_pool.submit(_one_hash_per_machine, compute).result()


passwords.set_hash_runner(run_hash)


def work_limiter() -> anyio.CapacityLimiter:
    return _limiter("work", WORK_THREADS)


def sign_in_limiter() -> anyio.CapacityLimiter:
    return _limiter("sign-in", SIGN_IN_THREADS)


async def run_sign_in(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a password check (and its database writes) in the sign-in pool; Busy when full."""
    limiter = sign_in_limiter()
    if limiter.statistics().tasks_waiting >= SIGN_IN_MAX_WAITING:
        raise Busy
    return await to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=limiter)


async def run_work(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run file crypto or a database check in the work pool."""
    return await to_thread.run_sync(functools.partial(fn, *args, **kwargs),
                                    limiter=work_limiter())


# How often a thread holding the GIL is asked to let another run. CPython's default is 5 ms:
# with database work in the pool, the loop thread (every websocket) waits up to that long for
# a pool thread that is busy in Python (SQLAlchemy, psycopg's result handling) each time it has
# something to do, and a message crosses the loop several times. At 0.5 ms, in the scale-out
# bench (two workers, 20 pairs): 200 msg/s went from p50 90 ms / p99 493 ms to 5 / 32 ms at
# the same CPU, and 250 msg/s passes (bench/profiles/scaleout.md).
POOL_SWITCH_INTERVAL_SECONDS = 0.0005


def shorten_gil_switch() -> None:
    """Lifespan task: with database work in threads (PostgreSQL), switch threads sooner."""
    if not db_inline():
        sys.setswitchinterval(POOL_SWITCH_INTERVAL_SECONDS)


def db_inline() -> bool:
    """Whether database work runs on the loop: only on SQLite (see the module's note)."""
    return get_settings().database_url.startswith("sqlite")


def db_limiter() -> anyio.CapacityLimiter:
    return _limiter("db", DB_THREADS)


async def run_db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a function that opens its own database session: inline on SQLite, in the bounded
    database pool otherwise. Context variables (the origin tab) go with it to the thread.

    A handler may pass a closure that sets its own state's vars: Reflex holds that tab's state
    lock for the whole event, so nothing else touches the state while the thread runs.
    """
    if db_inline():
        return fn(*args, **kwargs)
    return await to_thread.run_sync(functools.partial(fn, *args, **kwargs),
                                    limiter=db_limiter())


def in_session_now(fn: Callable[..., T], *args, **kwargs) -> T:
    from care_messaging.db import session_scope

    with session_scope() as session:
        return fn(session, *args, **kwargs)


async def in_session(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(session, *args, **kwargs)`` in one transaction (committed when it returns), run
    as ``run_db`` runs: inline on SQLite, in the database pool otherwise."""
    return await run_db(in_session_now, fn, *args, **kwargs)
