"""Delivery status of a sender's own messages, as display text (no Reflex import).

Shared by the provider dashboard and the patient portal so both say the same thing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from care_messaging.services.messages import Receipt

SENDING = "Sending…"
SENT = "Sent"
DELIVERED = "Delivered"
FAILED = "Not sent"


def clock(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%H:%M")


def status_text(seq: int, receipt: Receipt) -> str:
    """"Read 10:42", "Delivered" or "Sent" for the message with sequence number ``seq``."""
    if receipt.read_seq >= seq:
        return f"Read {clock(receipt.read_at)}".strip()
    if receipt.delivered_seq >= seq:
        return DELIVERED
    return SENT


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
        "client_id": client_id,
        "failed": "",
    }


def failed_row(row: dict[str, str], reason: str) -> dict[str, str]:
    return {**row, "status": f"{FAILED}: {reason}", "failed": "1"}


def with_status(row: dict[str, str], receipt: Receipt) -> dict[str, str]:
    """The row with its status text refreshed when it is a stored own message (the same row
    object when nothing changes)."""
    if row.get("mine") == "1" and row.get("seq"):
        status = status_text(int(row["seq"]), receipt)
        if status != row.get("status"):
            return {**row, "status": status}
    return row

