"""The open conversation's quick replies as the dashboard keeps them (rows and JSON)."""

from __future__ import annotations

import json

from care_messaging.services import quick_replies
from care_messaging.services.actors import Actor


def quick_reply_rows(session, *, actor: Actor, conversation_id: int
                     ) -> tuple[list[dict[str, str]], str]:
    """Rows for the menu and the JSON for assets/quick_replies.js (access re-checked by the
    service: the names are filled only for a conversation the provider may see)."""
    views = quick_replies.for_conversation(session, actor=actor,
                                           conversation_id=conversation_id)
    rows = [{"name": v.name, "body": v.body, "scope": "clinic" if v.clinic_wide else "mine"}
            for v in views]
    return rows, json.dumps([{"name": r["name"], "body": r["body"]} for r in rows])
