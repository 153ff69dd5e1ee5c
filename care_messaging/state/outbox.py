"""The server's side of the browser outbox (assets/outbox.js): which client ids it accepts and
the acknowledgements it sends back.

A tab's acknowledgements travel as one short JSON list in a state var, newest last: React may
fold two quick updates into one render, so the browser reads the whole list each time and
acts on every entry it has not handled yet (handling one twice changes nothing).
"""

from __future__ import annotations

import json
import re

# The outbox makes a UUID per message; the protocol clients of the bench and older tabs send
# other short ids. Nothing else is stored.
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Enough for a burst typed offline and flushed at once; the oldest fall off.
KEEP_ACKS = 50
NO_CLIENT_ID = "This message could not be sent from this page. Reload the page and try again."

STORED = "stored"  # in the database with sequence number "seq": the bubble gives way
FAILED = "failed"  # refused with a reason the sender can act on: Retry or Delete
REFUSED = "refused"  # the conversation is gone or was never visible: nothing to retry
TRY_AGAIN = "retry"  # the server could not store it now: the outbox sends it again soon


def client_id(value: object) -> str | None:
    """The browser's id for one message, or None for anything that is not one."""
    text = str(value or "").strip()
    return text if _CLIENT_ID.fullmatch(text) else None


def stored(client_id: str, seq: int) -> dict[str, str]:
    return {"c": client_id, "k": STORED, "seq": str(seq)}


def failed(client_id: str, reason: str) -> dict[str, str]:
    return {"c": client_id, "k": FAILED, "e": reason}


def refused(client_id: str, reason: str) -> dict[str, str]:
    return {"c": client_id, "k": REFUSED, "e": reason}


def try_again(client_id: str) -> dict[str, str]:
    return {"c": client_id, "k": TRY_AGAIN, "e": "The server could not store it yet."}


def with_ack(acks_json: str, ack: dict[str, str]) -> str:
    """``acks_json`` with ``ack`` added last (replacing an older one for the same id)."""
    try:
        acks = [a for a in json.loads(acks_json or "[]") if a.get("c") != ack["c"]]
    except (ValueError, AttributeError):
        acks = []
    return json.dumps([*acks, ack][-KEEP_ACKS:], separators=(",", ":"))
