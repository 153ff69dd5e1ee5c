"""Delivery status of a sender's own messages, as display text (no Reflex import).

Shared by the provider dashboard and the patient portal so both say the same thing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from care_messaging.services.messages import Receipt

SENT = "Sent"
DELIVERED = "Delivered"


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


def with_status(row: dict[str, str], receipt: Receipt) -> dict[str, str]:
    """The row with its status text refreshed when it is a stored own message (the same row
    object when nothing changes)."""
    if row.get("mine") == "1" and row.get("seq"):
        status = status_text(int(row["seq"]), receipt)
        if status != row.get("status"):
            return {**row, "status": status}
    return row

