"""Response times for clinic leads: how fast the care team first answers patients.

For conversations a patient started in the last ``weeks`` weeks: the time to the first
provider reply, its median and the share of first replies inside the reply-by time
(services/reply_by.py, with the clinic's current settings and the conversation's current
priority), per provider (who replied first) and per week (Monday-based, in the clinic's time
zone); and how many open conversations are overdue now.

Aggregates only: provider names, counts and durations, never a patient, topic or text, so the
admin (who sees no PHI) may read it as well as providers marked as clinic leads. Viewing is
audited.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session, col, select

from care_messaging.models import Conversation, Patient, Provider, Role, User
from care_messaging.services import audit, reply_by, triage, triage_list
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Outcome
from care_messaging.services.errors import NotFoundError

VIEW_ACTION = "response_times_view"


@dataclass(frozen=True)
class Bucket:
    label: str
    replies: int
    median_seconds: float | None
    within_share: float | None  # 0..1


@dataclass(frozen=True)
class ResponseTimes:
    providers: list[Bucket]
    weeks: list[Bucket]
    overdue_now: int
    waiting: int  # patient-started conversations in the window with no reply yet


def may_view(session: Session, actor: Actor) -> bool:
    if actor.role == Role.ADMIN:
        return True
    if actor.role == Role.PROVIDER and actor.provider_id is not None:
        provider = session.get(Provider, actor.provider_id)
        return bool(provider and provider.is_lead)
    return False


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _bucket(label: str, waits: list[tuple[float, bool]]) -> Bucket:
    if not waits:
        return Bucket(label, 0, None, None)
    return Bucket(label, len(waits), statistics.median(w for w, _ in waits),
                  sum(1 for _, ok in waits if ok) / len(waits))


def compute(session: Session, *, actor: Actor, weeks: int = 8,
            now: datetime | None = None) -> ResponseTimes:
    """The page's figures (NotFoundError for anyone but the admin and clinic leads)."""
    if not may_view(session, actor):
        raise NotFoundError("Not found.")
    now = now or triage_list.clock()
    hours = reply_by.load(session)
    zone = hours.zone
    today = now.astimezone(zone).date()
    first_week = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    since = datetime.combine(first_week, datetime.min.time(), zone).astimezone(UTC)
    rows = session.exec(
        select(Conversation.created_at, Conversation.first_provider_reply_at,
               Conversation.priority, Conversation.provider_user_id)
        .join(User, col(User.id) == Conversation.created_by_user_id)
        .where(User.role == Role.PATIENT, Conversation.created_at >= since)
    ).all()
    per_provider: dict[int, list[tuple[float, bool]]] = {}
    per_week: dict[date, list[tuple[float, bool]]] = {first_week + timedelta(weeks=i): []
                                                      for i in range(weeks)}
    waiting = 0
    for created, replied, priority, provider_user_id in rows:
        if replied is None:
            waiting += 1
            continue
        created, replied = _aware(created), _aware(replied)
        wait = max(0.0, (replied - created).total_seconds())
        ok = replied <= reply_by.reply_by(created, priority, hours)
        per_provider.setdefault(provider_user_id or 0, []).append((wait, ok))
        local = created.astimezone(zone).date()
        per_week.setdefault(local - timedelta(days=local.weekday()), []).append((wait, ok))
    names = dict(session.exec(select(User.id, User.display_name).where(
        col(User.id).in_(list(per_provider)))).all())
    providers = sorted((_bucket(names.get(uid, "Unknown"), waits)
                        for uid, waits in per_provider.items()), key=lambda b: b.label)
    week_rows = [_bucket(f"Week of {day.strftime('%b')} {day.day}", per_week[day])
                 for day in sorted(per_week)]
    overdue = triage.overdue_count(session, patient_ids=select(Patient.id), now=now)
    audit.record(session, actor=actor, action=VIEW_ACTION, outcome=Outcome.SUCCESS,
                 object_type="report", object_id="response_times", detail=f"weeks={weeks}")
    return ResponseTimes(providers, week_rows, overdue, waiting)
