"""Jobs that recur: the reminder sweep and the providers' daily digest.

On the embedded backend the runner keeps one of each scheduled (a dedupe key per run, so
several runners add it once); procrastinate schedules the same jobs from cron lines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from care_messaging.models import utcnow
from care_messaging.settings import get_settings

REMINDER_SWEEP = "reminder_sweep"
DAILY_DIGEST = "daily_digest"
REMINDER_SWEEP_MINUTES = 15


def next_digest_at(now: datetime, hour: int) -> datetime:
    at = now.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def ensure_scheduled(session: Session, now: datetime | None = None) -> None:
    from care_messaging import jobs

    now = now or utcnow()
    settings = get_settings()
    if settings.reminder_hours > 0:
        jobs.enqueue(session, REMINDER_SWEEP, {}, dedupe_key=REMINDER_SWEEP,
                     run_at=now + timedelta(minutes=REMINDER_SWEEP_MINUTES))
    digest_at = next_digest_at(now, settings.digest_hour_utc)
    jobs.enqueue(session, DAILY_DIGEST, {"day": digest_at.date().isoformat()},
                 dedupe_key=f"{DAILY_DIGEST}:{digest_at.date().isoformat()}", run_at=digest_at)
