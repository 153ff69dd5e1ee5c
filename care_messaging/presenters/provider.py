"""The provider dashboard's rows (and the message row both threads share) as display strings.

No Reflex import: these run in handlers and are unit-tested on their own.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import TypedDict

from care_messaging.models import Role
from care_messaging.presenters import message_status
from care_messaging.presenters.instant import iso_utc
from care_messaging.presenters.labels import CATEGORY_LABELS, PRIORITY_LABELS, STATUS_LABELS, label
from care_messaging.services import internal_notes, red_flags
from care_messaging.services.actors import Actor
from care_messaging.services.conversation_list import ConversationRow
from care_messaging.services.message_changes import window
from care_messaging.services.message_views import MessageView
from care_messaging.services.patients import PatientMatch


def joined(*parts: str, sep: str = " · ") -> str:
    """The non-empty parts with a separator between them: never a separator dangling beside
    an empty value ("Check-in ·")."""
    return sep.join(p for p in (str(x or "").strip() for x in parts) if p)


def about(category: str, reason: str) -> str:
    """What a conversation is about: "Check-in · Check in for Maria" (or just "Check-in")."""
    return joined(label(CATEGORY_LABELS, category), reason)


def birth_date(value: date | None) -> str:
    """A date of birth as "Born Mar 4, 1950" (a calendar date: no time zone applies)."""
    if value is None:
        return "Date of birth not recorded"
    return f"Born {value.strftime('%b')} {value.day}, {value.year}"


def patient_option(match: PatientMatch) -> dict[str, str]:
    """One match in the New Message patient picker: enough to tell two namesakes apart."""
    return {"id": str(match.id), "name": match.name,
            "detail": joined(f"ID {match.mrn}", birth_date(match.date_of_birth)),
            "label": joined(match.name, f"ID {match.mrn}", birth_date(match.date_of_birth))}


def when(value: datetime | None) -> str:
    """The instant as ISO-8601 UTC for the page to show in the reader's own time zone
    (components/local_time.py)."""
    return iso_utc(value)


class SidebarRow(TypedDict):
    """The fields of one dashboard list row, for both of its renderers (the live list,
    components/provider_sidebar.py, and the first rows' HTML, web/first_rows.py). Flags are
    "1" or ""."""

    id: str
    topic: str
    patient_id: str
    patient_name: str
    mrn: str
    initials: str
    preview: str
    unread: str
    count: str
    when: str
    draft: str  # flag: the reader's own unsent text is waiting in this conversation
    assignee: str
    red_flag: str  # flag
    overdue: str  # flag


@functools.lru_cache(maxsize=4096)
def sidebar_row(row: ConversationRow) -> SidebarRow:
    """Only what a sidebar row shows (links are built from the ids in the page): every open
    dashboard tab holds a page of these, so each key is memory per connected tab.

    Equal rows give the same dict, so the tabs showing a row share it instead of each holding
    a copy (~28 KB per tab for a page of 30). A shared row must never be changed in place:
    every update assigns a new list of rows (``_set_changed``)."""
    return {
        "id": str(row.id),
        "topic": row.topic,
        "patient_id": str(row.patient_id),
        "patient_name": row.patient_name,
        "mrn": row.patient_mrn,
        "initials": row.patient_initials,
        "preview": row.preview,
        "unread": str(row.unread),
        "count": str(row.message_count),
        "when": when(row.last_message_at),
        "draft": "1" if row.has_draft else "",
        "assignee": row.assignee_name,
        "red_flag": "1" if row.red_flag else "",
        "overdue": "1" if row.overdue else "",
    }


def conversation_row(row: ConversationRow) -> dict[str, str]:
    return {
        "id": str(row.id),
        "href": f"/dashboard?c={row.id}",
        "topic": row.topic,
        "patient_id": str(row.patient_id),
        "patient_name": row.patient_name,
        "patient_href": f"/patients?id={row.patient_id}",
        "mrn": row.patient_mrn,
        "initials": row.patient_initials,
        "preview": row.preview,
        "unread": str(row.unread),
        "count": str(row.message_count),
        "count_label": f"{row.message_count} message{'' if row.message_count == 1 else 's'}",
        "when": when(row.last_message_at),
        "status": label(STATUS_LABELS, row.status),
        "priority": label(PRIORITY_LABELS, row.priority),
        "about": about(row.category, row.reason),
        "red_flag": "1" if row.red_flag else "",
        "overdue": "1" if row.overdue else "",
        "reply_by": when(row.reply_by_at) if row.reply_by_at else "",
    }


STATE_LABELS = {"retracted": "retracted", "corrected": "edited"}


class MessageRow(TypedDict):
    """One message as a thread shows it (both sides): every value a string for Reflex's
    vars, flags "1" or "" (``rx.cond`` reads them as true or false)."""

    id: str
    seq: str
    sender: str
    mine: str  # flag
    body: str
    when: str
    status: str  # message_status: SENT, DELIVERED, READ, or "" for others' messages
    read_at: str
    client_id: str
    state: str  # "", "retracted" or "corrected"
    changed_at: str
    changeable: str  # flag: the sender may still retract or correct it
    history: str  # flag: a provider may open its history
    safety: str  # flag: the patient's own message names an emergency sign


def message_row(view: MessageView, actor: Actor) -> MessageRow:
    mine = view.sender_user_id == actor.user_id
    state = STATE_LABELS.get(str(view.state), "")
    # The sender may still retract or correct it (the service decides again on each change).
    changeable = (mine and state != "retracted"
                  and datetime.now(view.created_at.tzinfo) - view.created_at <= window())
    return {
        "id": str(view.id),
        "seq": str(view.seq),
        "sender": "You" if mine else view.sender_name,
        "mine": "1" if mine else "",
        "body": view.body,
        "when": when(view.created_at),
        "status": message_status.SENT if mine else "",
        "read_at": "",
        "client_id": view.client_msg_id if mine else "",
        "state": state,
        "changed_at": when(view.changed_at) if view.changed_at else "",
        "changeable": "1" if changeable else "",
        # Providers can open the history of a changed message.
        "history": "1" if state and actor.role == Role.PROVIDER else "",
        # The patient's own message naming an emergency sign shows the emergency line under
        # it (services/red_flags.py); the care team never gets this key set.
        "safety": "1" if mine and actor.role == Role.PATIENT and red_flags.is_red_flag(view.body)
        else "",
    }


def note_row(view: internal_notes.NoteView, actor: Actor) -> dict[str, str]:
    """A staff-only note of the open thread ("You" for the viewer's own)."""
    return {"id": str(view.id),
            "author": "You" if view.author_user_id == actor.user_id else view.author_name,
            "body": view.body, "when": when(view.created_at)}
