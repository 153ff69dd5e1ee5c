"""Reply-by times: a pure function of arrival time, priority and the clinic's hours, computed
in the clinic's time zone, across weekends and outside working hours (fixed clocks)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from care_messaging.services import reply_by
from care_messaging.services.errors import NotFoundError, ValidationError
from care_messaging.services.reply_by import ClinicHours, Target

NY = "America/New_York"
HOURS = ClinicHours(timezone=NY)  # Mon-Fri 08:00-17:00, routine 2d, high 1d, urgent 4h


def local(y, m, d, hh, mm=0, zone=NY) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(zone))


# 2026-11-27 is a Friday; 28-29 the weekend; 30 a Monday.
@pytest.mark.parametrize(("received", "priority", "expected"), [
    # Friday 15:00: 2 business days later is Tuesday 15:00 (the weekend does not count).
    (local(2026, 11, 27, 15), "routine", local(2026, 12, 1, 15)),
    # Friday 18:00 (after hours): the clock starts Monday 08:00 -> Wednesday 08:00.
    (local(2026, 11, 27, 18), "routine", local(2026, 12, 2, 8)),
    # Saturday: the same as after hours on Friday.
    (local(2026, 11, 28, 10), "routine", local(2026, 12, 2, 8)),
    # 4 working hours from Friday 15:00: 2 on Friday, 2 on Monday -> Monday 10:00.
    (local(2026, 11, 27, 15), "urgent", local(2026, 11, 30, 10)),
    # From Sunday night: Monday 08:00 + 4 h.
    (local(2026, 11, 29, 23, 30), "urgent", local(2026, 11, 30, 12)),
    # Before opening on a Tuesday: 08:00 + 4 h the same day.
    (local(2026, 12, 1, 6, 15), "urgent", local(2026, 12, 1, 12)),
    # Inside hours with room left that day.
    (local(2026, 12, 1, 9, 30), "urgent", local(2026, 12, 1, 13, 30)),
    # High: 1 business day from Thursday 16:59 -> Friday 16:59.
    (local(2026, 11, 26, 16, 59), "high", local(2026, 11, 27, 16, 59)),
])
def test_reply_by_across_weekends_and_outside_hours(received, priority, expected):
    due = reply_by.reply_by(received.astimezone(UTC), priority, HOURS)
    assert due == expected.astimezone(UTC)
    assert due.tzinfo is UTC


def test_the_clinic_time_zone_decides_what_is_after_hours():
    # 22:30 UTC on a Friday is 17:30 in New York (closed) but 14:30 in Los Angeles (open).
    received = datetime(2026, 11, 27, 22, 30, tzinfo=UTC)
    ny = reply_by.reply_by(received, "urgent", HOURS)
    la = reply_by.reply_by(received, "urgent", ClinicHours(timezone="America/Los_Angeles"))
    assert ny == local(2026, 11, 30, 12).astimezone(UTC)
    # 2.5 h left on Friday in LA, then 1.5 h on Monday from 08:00.
    assert la == local(2026, 11, 30, 9, 30, "America/Los_Angeles").astimezone(UTC)


def test_a_six_day_week_and_custom_targets():
    hours = ClinicHours(timezone=NY, working_days=frozenset({0, 1, 2, 3, 4, 5}),
                        day_start=time(9), day_end=time(13),
                        targets={"routine": Target(1, "d"), "urgent": Target(6, "h"),
                                 "high": Target(1, "d")})
    # Friday 12:00 + 6 working hours: 1 on Friday, 4 on Saturday, 1 on Monday.
    assert reply_by.reply_by(local(2026, 11, 27, 12).astimezone(UTC), "urgent", hours) == \
        local(2026, 11, 30, 10).astimezone(UTC)
    # Friday + 1 business day is Saturday now.
    assert reply_by.reply_by(local(2026, 11, 27, 10).astimezone(UTC), "routine", hours) == \
        local(2026, 11, 28, 10).astimezone(UTC)


def test_overdue_uses_the_clock_it_is_given():
    due = local(2026, 12, 1, 15).astimezone(UTC)
    assert not reply_by.is_overdue(due, local(2026, 12, 1, 14, 59).astimezone(UTC))
    assert reply_by.is_overdue(due, local(2026, 12, 1, 15).astimezone(UTC))
    assert not reply_by.is_overdue(None, local(2030, 1, 1, 0).astimezone(UTC))


def test_what_the_patient_reads():
    assert reply_by.patient_promise(HOURS, "routine") == \
        "Your care team usually replies within 2 business days."
    assert reply_by.patient_promise(HOURS, "urgent") == \
        "Your care team usually replies within 4 working hours."
    assert reply_by.patient_promise(HOURS, "high") == \
        "Your care team usually replies within 1 business day."


@pytest.mark.parametrize(("field", "value"), [
    ("target_routine", "2 weeks"), ("target_urgent", "0h"), ("day_start", "25:00"),
    ("working_days", "Funday"), ("timezone", "Mars/Olympus"), ("day_end", "07:00"),
])
def test_bad_settings_are_refused(field, value):
    form = {**reply_by.as_form(HOURS), field: value}
    with pytest.raises(ValidationError):
        reply_by.from_form(form)


def test_the_admin_saves_settings_audited_and_others_cannot(session):
    from sqlmodel import select

    from care_messaging.models import AuditEvent
    from tests.factories import actor_of, clinic, make_admin

    people = clinic(session)
    admin = actor_of(session, make_admin(session))
    assert reply_by.load(session) == reply_by.DEFAULTS
    form = {**reply_by.as_form(HOURS), "target_routine": "3d", "timezone": "Europe/Berlin"}
    with pytest.raises(NotFoundError):
        reply_by.save(session, actor=people["lee"], values=form)
    session.rollback()
    reply_by.save(session, actor=admin, values=form)
    session.commit()
    loaded = reply_by.load(session)
    assert loaded.timezone == "Europe/Berlin" and loaded.target("routine") == Target(3, "d")
    rows = session.exec(select(AuditEvent).where(
        AuditEvent.action == reply_by.SETTINGS_ACTION)).all()
    assert len(rows) == 1 and "target_routine=3d" in rows[0].detail
