"""Blocking work of the HTTP routes, run off the event loop in bounded thread pools.

The one worker's event loop carries every websocket: a route that hashes a password (argon2id,
19 MiB, ~30-60 ms of CPU here) or decrypts a 10 MB file on it stalls live messaging for
everyone (20 concurrent failed sign-ins took /api/health from 5 ms to 9.6 s). argon2-cffi and
the AES-GCM/SHA-256 code release the GIL, so a thread does the work while the loop goes on.
Each kind of work has its own small limiter: a storm of sign-ins queues behind its two tokens
and never takes the threads the downloads and session checks need; anyio's default pool (40
threads) is shared with Reflex and Starlette, so these limits keep us well inside it.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio
from anyio import to_thread

P = ParamSpec("P")
T = TypeVar("T")

# Two password hashes at a time on a 2-core box: the loop keeps a core's worth of time.
SIGN_IN_THREADS = 2
# More than this many sign-ins waiting: answer "busy" at once instead of queueing without end
# (a spread-out storm that the per-address limit does not catch).
SIGN_IN_MAX_WAITING = 64
# File decryption/hashing and the session checks of routes and the upload guard.
WORK_THREADS = 4


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


def sign_in_limiter() -> anyio.CapacityLimiter:
    return _limiter("sign-in", SIGN_IN_THREADS)


def work_limiter() -> anyio.CapacityLimiter:
    return _limiter("work", WORK_THREADS)


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
