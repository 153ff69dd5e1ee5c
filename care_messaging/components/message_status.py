"""Delivery status of a sender's own messages, as display text (no Reflex import).

Shared by the provider dashboard and the patient portal so both say the same thing.
"""

from __future__ import annotations

from care_messaging.components.instant import iso_utc
from care_messaging.services.messages import Receipt

SENDING = "Sending…"
SENT = "Sent"
DELIVERED = "Delivered"
READ = "Read"
FAILED = "Not sent"


def status_of(seq: int, receipt: Receipt) -> tuple[str, str]:
    """("Read", when it was read as ISO-8601 UTC), ("Delivered", "") or ("Sent", "") for the
    message with sequence number ``seq``. The bubble shows the time after "Read" in the
    reader's own zone, with its date when it is not today (components/local_time.py)."""
    if receipt.read_seq >= seq:
        return READ, iso_utc(receipt.read_at)
    if receipt.delivered_seq >= seq:
        return DELIVERED, ""
    return SENT, ""


def pending_row(*, client_id: str, body: str, sender: str = "You") -> dict[str, str]:
    """A bubble shown the moment Send is pressed, before the server has stored it."""
    return {
        "id": f"pending-{client_id}",
        "seq": "",
        "sender": sender,
        "mine": "1",
        "body": body,
        "when": "",
        "status": SENDING,
        "read_at": "",
        "client_id": client_id,
        "failed": "",
    }


def failed_row(row: dict[str, str], reason: str) -> dict[str, str]:
    return {**row, "status": f"{FAILED}: {reason}", "failed": "1"}


def with_status(row: dict[str, str], receipt: Receipt) -> dict[str, str]:
    """The row with its status text refreshed when it is a stored own message (the same row
    object when nothing changes)."""
    if row.get("mine") == "1" and row.get("seq"):
        status, read_at = status_of(int(row["seq"]), receipt)
        if status != row.get("status") or read_at != row.get("read_at", ""):
            return {**row, "status": status, "read_at": read_at}
    return row

