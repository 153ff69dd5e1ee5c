"""The open thread's rows kept in a tab's state: settled rows plus a short tail of new ones.

Reflex sends a list var whole whenever it changes. A thread shown as one list would send
every shown message again with each new one (and React would re-render them all), so a new
message would cost more the longer the tab stays open. The rows are therefore kept in two
lists: ``settled`` (the page opened with, older pages, earlier folds) and ``recent`` (what
arrived since). A new message changes only ``recent``; when that passes ``RECENT_ROWS`` it is
folded into ``settled`` in one update, and ``settled`` stays a bounded window of the newest
``MAX_THREAD_ROWS`` messages. Older messages stay one "Load older" away.

Plain Python (no Reflex): the page states call these and assign only the lists that changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MAX_THREAD_ROWS = 200
RECENT_ROWS = 20

Row = dict[str, str]


@dataclass(frozen=True)
class Added:
    """The lists after adding rows; ``settled`` is None when it did not change."""

    settled: list[Row] | None
    recent: list[Row]
    attachments: list[Row] | None
    oldest_seq: int | None  # the oldest shown seq when the window dropped rows


def add(settled: list[Row], recent: list[Row], attachments: list[Row], new_rows: list[Row],
        new_attachments: list[Row], *, limit: int = MAX_THREAD_ROWS,
        recent_max: int = RECENT_ROWS) -> Added:
    """Append ``new_rows`` to the tail, folding the tail into the window when it is full."""
    recent = [*recent, *new_rows]
    merged_attachments = [*attachments, *new_attachments] if new_attachments else None
    if len(recent) <= recent_max:
        return Added(None, recent, merged_attachments, None)
    rows, kept_attachments, oldest = trim([*settled, *recent],
                                          merged_attachments or attachments, limit)
    changed_attachments = merged_attachments if oldest is None else kept_attachments
    return Added(rows, [], changed_attachments, oldest)


def trim(rows: list[Row], attachments: list[Row], limit: int = MAX_THREAD_ROWS,
         ) -> tuple[list[Row], list[Row], int | None]:
    """Drop the oldest stored rows beyond ``limit`` (and their attachments); the third value
    is the new oldest shown seq when rows were dropped."""
    excess = len(rows) - limit
    if excess <= 0:
        return rows, attachments, None
    # Only stored rows (with a seq) are dropped: a "Sending…" or failed bubble always stays.
    dropped = [r for r in rows if r.get("seq")][:excess]
    if not dropped:
        return rows, attachments, None
    dropped_ids = {r["id"] for r in dropped}
    kept = [r for r in rows if r["id"] not in dropped_ids]
    kept_attachments = [a for a in attachments if a.get("message_id") not in dropped_ids]
    oldest = min((int(r["seq"]) for r in kept if r.get("seq")), default=None)
    return kept, kept_attachments, oldest


def replace_rows(rows: list[Row], change: Callable[[Row], Row | None]) -> list[Row] | None:
    """``rows`` with each row replaced by ``change(row)`` (None drops it); None when nothing
    changed, so the caller leaves the var alone and Reflex sends nothing for it."""
    out: list[Row] = []
    changed = False
    for row in rows:
        new = change(row)
        if new is None:
            changed = True
            continue
        changed = changed or new != row
        out.append(new)
    return out if changed else None
