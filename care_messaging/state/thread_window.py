"""The open thread's rows kept in a tab's state: a bounded window of the newest messages.

A tab left open on a busy conversation would otherwise grow its list with every message, and
Reflex sends the whole list in each update, so every new message would cost more than the last.
Older messages stay one "Load older" away (the window only moves the oldest-loaded mark).
"""

from __future__ import annotations

MAX_THREAD_ROWS = 200


def append(rows: list[dict[str, str]], attachments: list[dict[str, str]],
           new_rows: list[dict[str, str]], new_attachments: list[dict[str, str]],
           limit: int = MAX_THREAD_ROWS,
           ) -> tuple[list[dict[str, str]], list[dict[str, str]], int | None]:
    """Rows and attachments with the new ones appended and the oldest stored rows dropped
    beyond ``limit``; the third value is the new oldest shown seq when rows were dropped."""
    rows = [*rows, *new_rows]
    attachments = [*attachments, *new_attachments]
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
