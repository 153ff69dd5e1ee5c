"""The job worker inside each app process (a Reflex lifespan task).

SQLite: the embedded runner on a daemon thread. PostgreSQL: a procrastinate worker on the
app's event loop (its synchronous handlers run on threads). ``CARE_JOBS_IN_APP=0`` leaves
jobs to dedicated ``python -m care_messaging.cli jobs`` workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from care_messaging.settings import get_settings

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def job_worker() -> AsyncIterator[None]:
    settings = get_settings()
    if not settings.jobs_in_app:
        yield
        return
    if settings.database_url.startswith("postgresql"):
        from care_messaging.jobs import pg

        task = asyncio.create_task(pg.run_worker(settings.database_url))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        return
    from care_messaging.db import get_engine
    from care_messaging.jobs.embedded import start_thread

    thread, stop = start_thread(get_engine(), lease_seconds=settings.job_lease_seconds,
                                poll_seconds=settings.job_poll_seconds)
    try:
        yield
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 5)
