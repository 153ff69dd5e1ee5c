"""An instant as the pages carry it: ISO-8601 UTC (no Reflex import).

Not display text: the browser shows it in the reader's own zone and locale
(components/local_time.py, assets/local_time.js).
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(value: datetime | None) -> str:
    """E.g. "2026-11-22T14:05:09Z"; "" for none. SQLite hands back naive datetimes, which are
    UTC; PostgreSQL aware ones."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
