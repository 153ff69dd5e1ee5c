"""Service rows -> small dicts of display strings for the patient portal (no Reflex import)."""

from __future__ import annotations

from care_messaging.presenters.labels import (
    CATEGORY_LABELS,
    MEDIUM_LABELS,
    PRIORITY_COLORS,
    PRIORITY_LABELS,
    STATUS_COLORS,
    STATUS_LABELS,
    label,
)
from care_messaging.presenters.provider import about, joined, when
from care_messaging.services.conversation_list import ConversationRow
from care_messaging.services.message_views import MessageView
from care_messaging.web.origins import attachment_href


def patient_conversation_row(row: ConversationRow, viewer_user_id: int | None = None
                             ) -> dict[str, str]:
    """A row of the patient's list (and the open chat's header). ``provider`` is who the
    conversation is with; ``last_sender`` who wrote the message in ``preview`` ("You" for the
    viewer's own), which may well be someone else on the care team."""
    category = label(CATEGORY_LABELS, row.category)
    if not row.preview:
        last_sender = ""  # nothing to attribute: no "You:" dangling before an empty preview
    elif row.last_sender_user_id is not None and row.last_sender_user_id == viewer_user_id:
        last_sender = "You"
    else:
        last_sender = row.last_sender_name
    return {
        "id": str(row.id),
        "href": f"/portal?c={row.id}",
        "topic": row.topic,
        "provider": row.provider_name,
        "status": label(STATUS_LABELS, row.status),
        "status_key": row.status,
        "status_color": STATUS_COLORS.get(row.status, "gray"),
        "priority": label(PRIORITY_LABELS, row.priority),
        "priority_color": PRIORITY_COLORS.get(row.priority, "gray"),
        "category": category,
        "medium": label(MEDIUM_LABELS, row.medium),
        "reason": row.reason,
        "about": about(row.category, row.reason),
        "subtitle": joined(row.provider_name, category),
        # Who on the care team is handling it ("" until someone takes it on).
        "handler": f"{row.assignee_name} is handling this" if row.assignee_name else "",
        "preview": row.preview,
        "last_sender": last_sender,
        "unread": str(row.unread),
        "when": when(row.last_message_at),
        "draft": "1" if row.has_draft else "",
    }


def attachment_rows(views: list[MessageView]) -> list[dict[str, str]]:
    """Attachments of the shown messages, flat, each naming its message."""
    rows = []
    for view in views:
        for a in view.attachments:
            rows.append({
                "message_id": str(view.id),
                "id": str(a.id),
                "name": a.name,
                "href": attachment_href(a.id),
                "download_href": attachment_href(a.id, download=True),
                "is_image": "1" if a.is_image else "",
                "size": size_label(a.size_bytes),
            })
    return rows


def size_label(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size // 1024} KB"
    return f"{size} B"
