"""What both thread pages keep: the shape of the state, the hooks a page supplies, and the
open thread's rows (a Reflex state mixin; state/thread_page.py composes the concerns).

The concerns built on this: opening, reading and paging a thread (state/thread_reading.py),
sending and the outbox's acknowledgements (state/thread_sending.py), and live updates
(state/thread_live.py). Every var both pages show is declared here, so the state's shape is
read in one place.
"""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from care_messaging.presenters import message_status
from care_messaging.presenters.patient import attachment_rows
from care_messaging.presenters.provider import message_row
from care_messaging.services import message_views, receipts
from care_messaging.services.actors import Actor
from care_messaging.state import thread_window
from care_messaging.state.auth import AuthState
from care_messaging.state.shared_values import NO_FIELDS, NO_ROWS, no_fields, no_rows

PAGE_SIZE = 30
MAX_LIST_ROWS = 300
THREAD_PAGE = 30


def parse_id(value: object) -> int | None:
    """A database id from the browser, or None for anything that is not one."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


def header_key(conversation) -> tuple:
    """The conversation fields a thread header shows (the patient's name and ID do not change
    with a message): a burst of messages rebuilds the header only when one of them moved (a
    provider's reply reopens a completed conversation or becomes its assigned provider, or
    someone takes it on: ``assignee_user_id``)."""
    return (conversation.topic, conversation.status, conversation.priority,
            conversation.category, conversation.provider_user_id,
            conversation.assignee_user_id)


class ThreadBaseState(AuthState, mixin=True):
    """The vars both thread pages show, the hooks each page supplies, the thread's rows."""

    ROLE: ClassVar[str] = ""
    PAGE_PATH: ClassVar[str] = ""
    EMPTY_SEND_ERROR: ClassVar[str] = "Write a message before sending."

    # List
    conversations: list[dict[str, str]] = rx.field(default_factory=no_rows)
    total_rows: int = 0
    # False until the first list has been loaded for this tab: the page shows "Loading" (or
    # the rows served with the page), not "No conversations", while it boots.
    list_loaded: bool = False
    list_limit: int = PAGE_SIZE
    nav_unread: int = 0
    # Open thread: settled rows and the tail of new ones (see state/thread_window.py)
    open_id: str = ""
    thread_error: str = ""
    header: dict[str, str] = rx.field(default_factory=no_fields)
    messages: list[dict[str, str]] = rx.field(default_factory=no_rows)
    recent: list[dict[str, str]] = rx.field(default_factory=no_rows)
    thread_attachments: list[dict[str, str]] = rx.field(default_factory=no_rows)
    has_older: bool = False
    # True while an older page is on its way (the button shows it, the log is aria-busy).
    loading_older: bool = False
    send_error: str = ""
    # What became of this tab's latest sends (state/outbox.py), for the browser's outbox.
    outbox_acks: str = "[]"
    # Which signed-in user this tab's outbox belongs to (a keyed hash, not the user id).
    outbox_owner: str = ""
    typing_label: str = ""
    _oldest_seq: int = 0
    _newest_seq: int = 0
    _last_typing_sent: float = 0.0
    # What the open thread's header was built from (see _show_header).
    _header_key: tuple = ()
    # New conversation dialog
    new_open: bool = False
    new_error: str = ""

    @rx.var
    def has_more(self) -> bool:
        return len(self.conversations) < self.total_rows

    # ----- what each page supplies -----
    def _refresh(self, session, actor: Actor, fresh_after: float | None = None) -> None:
        """Reload the list page and counters (``fresh_after``: see state/figure_cache.py)."""
        raise NotImplementedError

    def _set_header(self, session, actor: Actor, conversation) -> None:
        raise NotImplementedError

    def _on_open(self, session, actor: Actor, conversation) -> None:
        """Anything else a page shows for an opened thread."""

    def _send_refusal(self) -> str:
        """Why this thread cannot take a message now ("" when it can)."""
        return ""

    def _attachment_ids(self) -> list[int]:
        """Files waiting to go with the next message."""
        return []

    def _after_stored(self) -> None:
        """A message from this tab was stored."""

    def _new_conversation_args(self, form_data: dict) -> dict:
        """The page's part of a new conversation (for whom, how urgent)."""
        raise NotImplementedError

    def _set_changed(self, **values) -> None:
        """Assign only the vars whose value moved: Reflex sends every assigned var in the
        tab's next delta even when it is equal, and a resent list is re-serialised on the
        server and re-rendered in the browser (a burst's follow-ups refresh the same rows)."""
        for name, value in values.items():
            if self.get_value(name) != value:
                setattr(self, name, value)

    # ----- thread rows -----
    def _thread_rows(self) -> list[dict[str, str]]:
        return [*self.get_value("messages"), *self.get_value("recent")]

    def _show_rows(self, views: list[message_views.MessageView], actor: Actor) -> None:
        """Append stored messages to the thread (only the tail changes, usually)."""
        added = thread_window.add(
            self.get_value("messages"), self.get_value("recent"),
            self.get_value("thread_attachments"), [message_row(v, actor) for v in views],
            attachment_rows(views))
        if added.settled is not None:
            self.messages = added.settled
        self.recent = added.recent
        if added.attachments is not None:
            self.thread_attachments = added.attachments
        self._newest_seq = views[-1].seq
        if added.oldest_seq is not None:
            self._oldest_seq, self.has_older = added.oldest_seq, True

    def _change_rows(self, change) -> None:
        """Apply ``change`` (row -> row, or None to drop) to both lists; a list that did not
        change is not assigned, so Reflex does not send it again."""
        for name in ("messages", "recent"):
            changed = thread_window.replace_rows(self.get_value(name), change)
            if changed is not None:
                setattr(self, name, changed)

    def _append_new(self, session, actor: Actor, conversation_id: int) -> None:
        """Read and show whatever is newer than the newest shown message."""
        views = message_views.list_messages(session, conversation_id=conversation_id,
                                  after_seq=self._newest_seq, limit=thread_window.MAX_THREAD_ROWS)
        if views:
            self._show_rows(views, actor)

    def _show_sent(self, session, actor: Actor, view: message_views.MessageView) -> None:
        """Show a message just stored or published: from the view itself when it is the next
        one, else by reading everything newer (a gap means something was missed)."""
        if view.seq == self._newest_seq + 1:
            self._show_rows([view], actor)
        elif view.seq > self._newest_seq:
            self._append_new(session, actor, view.conversation_id)

    def _apply_receipts(self, session, actor: Actor, conversation) -> None:
        receipt = receipts.receipt_for(session, actor=actor, conversation=conversation)
        self._change_rows(lambda m: message_status.with_status(m, receipt))

    def _close_thread(self) -> None:
        self.open_id = ""
        self.header = NO_FIELDS
        self.messages = NO_ROWS
        self.recent = NO_ROWS
        self.thread_attachments = NO_ROWS
        self.has_older = self.loading_older = False
        self.typing_label = ""
        self._oldest_seq = self._newest_seq = 0

    def _show_header(self, session, actor: Actor, conversation) -> None:
        self._set_header(session, actor, conversation)
        self._header_key = header_key(conversation)
