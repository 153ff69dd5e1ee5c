"""Delivery status of a sender's own messages, as display text (no Reflex import).

Shared by the provider dashboard and the patient portal so both say the same thing.
"""

from __future__ import annotations

from care_messaging.presenters.instant import iso_utc
from care_messaging.services.receipts import Receipt

SENT = "Sent"
DELIVERED = "Delivered"
READ = "Read"


def status_of(seq: int, receipt: Receipt) -> tuple[str, str]:
    """("Read", when it was read as ISO-8601 UTC), ("Delivered", "") or ("Sent", "") for the
    message with sequence number ``seq``. The bubble shows the time after "Read" in the
    reader's own zone, with its date when it is not today (components/local_time.py)."""
    if receipt.read_seq >= seq:
        return READ, iso_utc(receipt.read_at)
    if receipt.delivered_seq >= seq:
        return DELIVERED, ""
    return SENT, ""


def with_status(row: dict[str, str], receipt: Receipt) -> dict[str, str]:
    """The row with its status text refreshed when it is a stored own message (the same row
    object when nothing changes)."""
    if row.get("mine") == "1" and row.get("seq"):
        status, read_at = status_of(int(row["seq"]), receipt)
        if status != row.get("status") or read_at != row.get("read_at", ""):
            return {**row, "status": status, "read_at": read_at}
    return row

