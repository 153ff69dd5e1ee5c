"""List pages and counters shared by a user's tabs during a burst of live events.

A provider with the dashboard open in several tabs would otherwise recompute the same list
page and counters in every tab after every burst. A follow-up may reuse a result computed
*after* the newest event it is following up (events are created after their commit, on this
process's monotonic clock), so a reused figure is never older than what it must show.
Handlers the user triggers always compute afresh (and refresh the entry).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")
MAX_AGE_SECONDS = 5.0
_entries: dict[Hashable, tuple[float, object]] = {}


def reuse_or_compute(key: Hashable, compute: Callable[[], T], *,
                     fresh_after: float | None = None) -> T:
    """``compute()``, or its cached value when that computation started after ``fresh_after``
    (None: always compute)."""
    now = time.monotonic()
    if fresh_after is not None:
        hit = _entries.get(key)
        if hit is not None and hit[0] >= fresh_after and now - hit[0] < MAX_AGE_SECONDS:
            return hit[1]  # type: ignore[return-value]
    value = compute()
    if len(_entries) > 5_000:
        for stale in [k for k, (at, _) in _entries.items() if now - at > MAX_AGE_SECONDS]:
            _entries.pop(stale, None)
    _entries[key] = (now, value)
    return value


def clear() -> None:
    _entries.clear()
