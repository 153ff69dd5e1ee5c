"""Reply-by times: when the care team is expected to answer a patient's message.

The clinic sets a target per priority ("2d": two business days, "4h": four working hours),
its working hours, working days and time zone (``clinic_settings``, edited by the admin;
defaults below). ``reply_by`` is a pure function of the moment a message arrived and those
settings; the clock is always passed in (``now``), so tests pin it.

- *working hours*: only time inside working hours on working days counts: 4 working hours
  from Friday 15:00 (day ends 17:00) is Monday 10:00; from Saturday it is Monday 12:00.
- *business days*: from the first working moment at or after arrival, the same local time N
  working days later: 2 business days from Friday 15:00 is Tuesday 15:00; from Friday 18:00
  (after hours) or Saturday it is Wednesday at opening.

Public holidays are not modelled (a clinic closed on a weekday should mark it by hand).
"""

from __future__ import annotations

import re
import threading
import time as monotonic_clock
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from care_messaging.models import ClinicSetting, Priority, Role, utcnow
from care_messaging.services import audit
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Outcome
from care_messaging.services.errors import NotFoundError, ValidationError

SETTINGS_ACTION = "clinic_settings_change"
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_TARGET = re.compile(r"^\s*(\d{1,3})\s*([hd])\s*$", re.IGNORECASE)
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class Target:
    amount: int
    unit: str  # "h": working hours, "d": business days

    @property
    def code(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def phrase(self) -> str:
        """'2 business days', '4 working hours', '1 business day'."""
        noun = "business day" if self.unit == "d" else "working hour"
        return f"{self.amount} {noun}{'' if self.amount == 1 else 's'}"


@dataclass(frozen=True)
class ClinicHours:
    timezone: str = "America/New_York"
    day_start: time = time(8, 0)
    day_end: time = time(17, 0)
    working_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    targets: dict[str, Target] = field(default_factory=lambda: {
        Priority.ROUTINE: Target(2, "d"), Priority.HIGH: Target(1, "d"),
        Priority.URGENT: Target(4, "h")})

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def target(self, priority: str) -> Target:
        return self.targets.get(priority) or self.targets[Priority.ROUTINE]


DEFAULTS = ClinicHours()


# ----- the pure computation -----
def _is_open_day(hours: ClinicHours, moment: datetime) -> bool:
    return moment.weekday() in hours.working_days


def _next_open(hours: ClinicHours, local: datetime) -> datetime:
    """The first working moment at or after ``local`` (a local, aware datetime)."""
    for _ in range(15):  # a week and a bit: every setting has at least one working day
        opening = local.replace(hour=hours.day_start.hour, minute=hours.day_start.minute,
                                second=0, microsecond=0)
        closing = opening.replace(hour=hours.day_end.hour, minute=hours.day_end.minute)
        if _is_open_day(hours, local):
            if local < opening:
                return opening
            if local < closing:
                return local
        local = (opening + timedelta(days=1)).replace(hour=0, minute=0)
    raise ValidationError("The clinic has no working days.")


def reply_by(received_at: datetime, priority: str, hours: ClinicHours = DEFAULTS) -> datetime:
    """When a message that arrived at ``received_at`` (aware) expects a reply, in UTC."""
    target = hours.target(priority)
    zone = hours.zone
    local = _next_open(hours, received_at.astimezone(zone))
    if target.unit == "d":
        left = target.amount
        day = local
        while left > 0:
            day = (day + timedelta(days=1))
            if _is_open_day(hours, day):
                left -= 1
        # Same wall-clock time on that day (re-attach the zone: a DST change in between).
        due = datetime.combine(day.date(), local.time(), zone)
        return due.astimezone(UTC)
    remaining = timedelta(hours=target.amount)
    while True:
        closing = local.replace(hour=hours.day_end.hour, minute=hours.day_end.minute,
                                second=0, microsecond=0)
        if local + remaining <= closing:
            return (local + remaining).astimezone(UTC)
        remaining -= closing - local
        local = _next_open(hours, closing + timedelta(minutes=1))


def is_overdue(reply_by_at: datetime | None, now: datetime) -> bool:
    if reply_by_at is None:
        return False
    if reply_by_at.tzinfo is None:
        reply_by_at = reply_by_at.replace(tzinfo=UTC)
    return reply_by_at <= now


def patient_promise(hours: ClinicHours, priority: str) -> str:
    """What the patient reads in the chat."""
    return f"Your care team usually replies within {hours.target(priority).phrase}."


# ----- the stored settings -----
def parse_target(value: str) -> Target:
    match = _TARGET.match(value or "")
    if not match or int(match.group(1)) < 1:
        raise ValidationError("A reply-by time looks like 2d (business days) or 4h (working "
                              "hours).")
    return Target(int(match.group(1)), match.group(2).lower())


def parse_clock(value: str) -> time:
    match = _CLOCK.match(value or "")
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValidationError("Working hours look like 08:00 and 17:00.")
    return time(int(match.group(1)), int(match.group(2)))


def parse_days(value: str) -> frozenset[int]:
    names = [p.strip()[:3].title() for p in (value or "").split(",") if p.strip()]
    if not names or any(n not in DAY_NAMES for n in names):
        raise ValidationError("Working days look like Mon,Tue,Wed,Thu,Fri.")
    return frozenset(DAY_NAMES.index(n) for n in names)


def parse_zone(value: str) -> str:
    try:
        ZoneInfo((value or "").strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError("Unknown time zone (use a name like America/New_York).") from exc
    return value.strip()


def as_form(hours: ClinicHours) -> dict[str, str]:
    """The settings as the admin's form shows them."""
    return {"timezone": hours.timezone, "day_start": hours.day_start.strftime("%H:%M"),
            "day_end": hours.day_end.strftime("%H:%M"),
            "working_days": ",".join(DAY_NAMES[d] for d in sorted(hours.working_days)),
            **{f"target_{p}": hours.target(p).code for p in Priority}}


def from_form(values: dict[str, str]) -> ClinicHours:
    """Validated settings from form values (ValidationError on the first bad one)."""
    start, end = parse_clock(values.get("day_start", "")), parse_clock(values.get("day_end", ""))
    if end <= start:
        raise ValidationError("The working day must end after it starts.")
    return ClinicHours(
        timezone=parse_zone(values.get("timezone", "")), day_start=start, day_end=end,
        working_days=parse_days(values.get("working_days", "")),
        targets={p: parse_target(values.get(f"target_{p}", "")) for p in Priority})


# Every patient message computes a reply-by time (services/triage.py) and every portal
# refresh shows the promise: reading and parsing the settings table each time cost a query,
# the form parse and a ZoneInfo lookup per send. They change when an admin saves them, so
# each process keeps them per database for a short while; a save in this process drops its
# copy at once (when the save's transaction ends), other workers see it within CACHE_SECONDS.
CACHE_SECONDS = 30.0
_cache: weakref.WeakKeyDictionary[Engine, tuple[float, ClinicHours]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _read(session: Session) -> ClinicHours:
    stored = dict(session.exec(select(ClinicSetting.key, ClinicSetting.value)).all())
    if not stored:
        return DEFAULTS
    try:
        return from_form({**as_form(DEFAULTS), **stored})
    except ValidationError:
        return DEFAULTS


def load(session: Session, *, fresh: bool = False) -> ClinicHours:
    """The clinic's settings (defaults for what was never set; a bad stored value too).

    ``fresh``: read the table now (the admin's form), not this process's recent copy."""
    engine = _engine_of(session)
    now = monotonic_clock.monotonic()
    if not fresh:
        with _cache_lock:
            hit = _cache.get(engine)
        if hit is not None and hit[0] > now:
            return hit[1]
    hours = _read(session)
    with _cache_lock:
        _cache[engine] = (now + CACHE_SECONDS, hours)
    return hours


def forget(engine: Engine) -> None:
    """Drop this process's copy of the settings of ``engine``'s database."""
    with _cache_lock:
        _cache.pop(engine, None)


def save(session: Session, *, actor: Actor, values: dict[str, str]) -> ClinicHours:
    """The admin saves the reply-by settings (validated, audited)."""
    if actor.role != Role.ADMIN:
        raise NotFoundError("Not found.")
    hours = from_form({k: str(v) for k, v in values.items()})
    engine = _engine_of(session)
    forget(engine)
    # A read later in this transaction would cache what may yet roll back: forget again
    # when it ends, either way.
    for when in ("after_commit", "after_rollback"):
        event.listen(session, when, lambda _s, _e=engine: forget(_e), once=True)
    now = utcnow()
    for key, value in as_form(hours).items():
        row = session.get(ClinicSetting, key) or ClinicSetting(key=key, value=value)
        row.value, row.updated_at = value, now
        session.add(row)
    audit.record(session, actor=actor, action=SETTINGS_ACTION, outcome=Outcome.SUCCESS,
                 object_type="clinic_settings", object_id="reply_by",
                 detail=" ".join(f"{k}={v}" for k, v in as_form(hours).items())[:500])
    return hours
