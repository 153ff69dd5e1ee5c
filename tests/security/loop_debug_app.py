"""The app for ``test_loop_never_blocks``: the production factory, with every step of its event
loop timed, and those that blocked the loop reported on stderr.

A step's wall time on a shared machine is mostly other processes' doing (the loop thread
waits in the run queue). Linux tells the two apart: ``/proc/thread-self/schedstat`` has the
thread's time on a CPU and its time waiting for one, so ``wall - waiting for a CPU`` is what
the step itself cost the loop: its own CPU (an argon2 hash) plus the time it sat blocked (a
sleep, a database round trip, a lock). Reported when that exceeds ``SLOW_STEP_SECONDS``.
Uvicorn calls the factory inside its running loop, so the loop's handles are patched here.
"""

from __future__ import annotations

import asyncio
import sys
import time

from care_messaging.care_messaging import app as production_app

SLOW_STEP_SECONDS = 0.15
_STAT = "/proc/thread-self/schedstat"


def _run_queue_seconds() -> float:
    with open(_STAT) as f:
        return int(f.read().split()[1]) / 1e9


def _timed(run):
    def step(handle: asyncio.Handle) -> None:
        t0, q0 = time.perf_counter(), _run_queue_seconds()
        try:
            run(handle)
        finally:
            wall = time.perf_counter() - t0
            if wall >= SLOW_STEP_SECONDS:
                own = wall - (_run_queue_seconds() - q0)
                if own >= SLOW_STEP_SECONDS:
                    print(f"Blocking step {handle!r} took {own:.3f} seconds of the loop "
                          f"({wall:.3f} s wall)", file=sys.stderr, flush=True)
    return step


def app():
    asyncio.get_running_loop()  # inside uvicorn's loop (the factory runs there)
    asyncio.Handle._run = _timed(asyncio.Handle._run)
    return production_app()
