"""Where the names of the old messages module live now, for the modules other branches are
changing at the same time (state/thread_page.py, realtime.py, components/); everything else
imports from the owners. Delete this module once those import from the owners too:

- message_sending.py: send_message, SendResult, MAX_BODY_CHARS (the hot path)
- message_views.py: MessageView, AttachmentView, list_messages (reading a thread)
- receipts.py: mark_read, mark_delivered, receipt_for, Receipt (delivered and read marks)
"""

from __future__ import annotations

from care_messaging.services.message_sending import MAX_BODY_CHARS, SendResult, send_message
from care_messaging.services.message_views import AttachmentView, MessageView, list_messages
from care_messaging.services.receipts import Receipt, mark_delivered, mark_read, receipt_for

__all__ = [
    "MAX_BODY_CHARS",
    "AttachmentView",
    "MessageView",
    "Receipt",
    "SendResult",
    "list_messages",
    "mark_delivered",
    "mark_read",
    "receipt_for",
    "send_message",
]
