"""Provider dashboard state: thin handlers over the services.

The list, the open thread, sending and live updates are shared with the patient portal
(``state/thread_page.py``); this module adds the provider's counters and chart, the list
filters and search, status and priority, and the New Message dialog. Every public handler
resolves the actor from the server-side session (``@guarded``, state/guarded.py) and every id
from the browser is re-checked by a service, which raises the same NotFoundError for
"forbidden" and "nonexistent".
"""

from __future__ import annotations

import functools
from datetime import date
from typing import ClassVar

import reflex as rx

from care_messaging import realtime
from care_messaging.db import session_scope
from care_messaging.presenters.provider import (
    SidebarRow,
    conversation_row,
    patient_option,
    sidebar_row,
)
from care_messaging.services import conversation_list, view_audit
from care_messaging.services import conversations as conv
from care_messaging.services import patients as patient_service
from care_messaging.services import stats as stats_service
from care_messaging.services.access import access_patient
from care_messaging.services.actors import Actor
from care_messaging.services.conversation_list import ConversationRow
from care_messaging.services.errors import ServiceError
from care_messaging.services.patients import PatientMatch
from care_messaging.state import figure_cache
from care_messaging.state.assignment import AssignmentState
from care_messaging.state.attachment_uploads import AttachmentUploadsState
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import PAGE_ROLE, guarded
from care_messaging.state.internal_notes import InternalNotesState
from care_messaging.state.message_changes import MessageChangesState
from care_messaging.state.message_jump import MessageJumpState
from care_messaging.state.quick_reply_rows import quick_reply_rows
from care_messaging.state.shared_values import NO_ROWS, no_rows, shared_rows
from care_messaging.state.thread_base import PAGE_SIZE, parse_id
from care_messaging.state.thread_page import ThreadPageState
from care_messaging.web import offloop


@functools.lru_cache(maxsize=400)
def day_label(day) -> str:
    """"Nov 03": one shared string per day for every tab's chart (memory per tab)."""
    return day.strftime("%b %d")


@functools.lru_cache(maxsize=4000)
def bar_label(day: str, messages: int) -> str:
    """"Nov 03: 12 messages", shared between tabs like ``day_label`` (memory per tab)."""
    return f"{day}: {messages} {'message' if messages == 1 else 'messages'}"


@functools.lru_cache(maxsize=4000)
def chart_bar(day: str, messages: int, peak: int) -> dict[str, str | int]:
    """One bar of the 30-day chart: its height as a share of the busiest day, and its words.
    Shared between tabs like the sidebar rows (never changed in place)."""
    return {"label": bar_label(day, messages), "pct": round(100 * messages / peak)}


@functools.lru_cache(maxsize=256)
def chart_bars(days: tuple[tuple[date, int], ...]) -> list[dict[str, str | int]]:
    """The chart's bars for (day, messages) pairs: tabs showing the same chart share the list
    itself too, not only its bars (a ``SharedRows``: never changed in place)."""
    peak = max((messages for _, messages in days), default=0) or 1
    return shared_rows(chart_bar(day_label(day), messages, peak) for day, messages in days)


@functools.lru_cache(maxsize=256)
def sidebar_rows(rows: tuple[ConversationRow, ...]) -> list[SidebarRow]:
    """A page of sidebar rows: tabs showing equal pages (one provider's tabs) share the list
    as well as its rows (a ``SharedRows``: every update assigns a new list)."""
    return shared_rows(sidebar_row(r) for r in rows)


class DashboardState(AssignmentState, InternalNotesState, AttachmentUploadsState,
                     MessageJumpState, MessageChangesState, ThreadPageState, AuthState):
    ROLE: ClassVar[str] = "provider"
    PAGE_PATH: ClassVar[str] = "/dashboard"

    # Sidebar
    filter_by: str = "all"
    search: str = ""
    # Statistics
    stat_total: int = 0
    stat_unread: int = 0
    stat_patients: int = 0
    stat_messages: int = 0
    chart_data: list[dict[str, str | int]] = rx.field(default_factory=no_rows)
    median_reply: str = "—"
    # Thread
    thread_status: str = ""
    thread_priority: str = ""
    # The open conversation's quick replies, filled in (components/quick_reply_menu.py).
    quick_replies: list[dict[str, str]] = rx.field(default_factory=no_rows)
    quick_replies_json: str = "[]"
    # New Message dialog: no patient until the provider picks one (see _choose_patient).
    patient_query: str = ""
    patient_options: list[dict[str, str]] = rx.field(default_factory=no_rows)
    patient_matches_label: str = ""
    new_patient_id: str = ""
    new_patient_name: str = ""
    new_patient_detail: str = ""

    # ----- page hooks (backend only) -----
    def _refresh(self, session, actor: Actor, fresh_after: float | None = None) -> None:
        """Reload the list page and the counters (the chart and median load with the page:
        they do not need to move with every message)."""
        def compute():
            page = conversation_list.list_conversations(
                session, actor=actor, filter_by=self.filter_by, search=self.search,
                limit=self.list_limit)
            return page, stats_service.dashboard_counts(session, actor=actor)

        key = ("dashboard", actor.user_id, self.filter_by, self.search, self.list_limit)
        page, counts = figure_cache.reuse_or_compute(key, compute, fresh_after=fresh_after)
        if fresh_after is None:  # a list the user asked for; a live update is no new view
            view_audit.record_list_view(
                session, actor=actor, kind="dashboard", rows=len(page.rows),
                patient_ids=(r.patient_id for r in page.rows), filter_by=self.filter_by,
                searched=bool(self.search.strip()))
        self._set_changed(conversations=sidebar_rows(tuple(page.rows)),
                          total_rows=page.total, list_loaded=True,
                          stat_total=counts.total_conversations,
                          stat_unread=counts.unread_messages,
                          stat_patients=counts.unique_patients,
                          stat_messages=counts.total_messages,
                          nav_unread=counts.unread_messages)

    def _set_header(self, session, actor: Actor, conversation) -> None:
        self.header = conversation_row(
            conversation_list.get_row(session, actor=actor, conversation_id=conversation.id))
        self.thread_status = conversation.status
        self.thread_priority = conversation.priority
        self._show_assignment(session, actor, conversation)

    def _on_open(self, session, actor: Actor, conversation) -> None:
        """The care team's part of an opened thread: whom it can go to, and its notes."""
        MessageChangesState._on_open(self, session, actor, conversation)
        self.assign_error = self.note_error = ""
        self._load_team(session, actor, conversation.id)
        self._load_notes(session, actor, conversation.id)
        self.quick_replies, self.quick_replies_json = quick_reply_rows(
            session, actor=actor, conversation_id=conversation.id)

    def _close_thread(self) -> None:
        ThreadPageState._close_thread(self)
        self._clear_assignment()
        self._clear_notes()
        self.quick_replies, self.quick_replies_json = NO_ROWS, "[]"

    async def _after_live_events(self, events: list,
                                 read_up_to: dict[int, int] | None = None) -> None:
        """Notes (staff-only, no text in the event) reload on their own; everything else
        follows the shared thread page."""
        notes = [e for e in events if e.kind == realtime.LiveKind.NOTE]
        others = [e for e in events if e.kind != realtime.LiveKind.NOTE]
        if others:
            await ThreadPageState._after_live_events(self, others, read_up_to)
        actor = await self._live_actor() if notes else None
        if actor is not None:
            await offloop.run_db(self._notes_live, actor, notes)

    def _load_analytics(self, session, actor: Actor) -> None:
        per_day = stats_service.messages_per_day(session, actor=actor)
        self.chart_data = chart_bars(tuple((d.day, d.messages) for d in per_day))
        self.median_reply = stats_service.format_duration(
            stats_service.median_first_reply_seconds(session, actor=actor))

    def _load_patient_options(self, session, actor: Actor) -> None:
        """A page of the provider's own patients matching the search (the server searches;
        the dialog never holds the whole panel)."""
        found = patient_service.search_patients(session, actor=actor, query=self.patient_query)
        self.patient_options = [patient_option(m) for m in found.rows]
        self.patient_matches_label = matches_label(len(found.rows), found.total,
                                                   bool(self.patient_query.strip()))

    def _choose_patient(self, session, actor: Actor, patient_id: int | None) -> None:
        """Choose a patient the provider may see (re-checked: an id from the browser)."""
        patient = access_patient(session, actor=actor, patient_id=patient_id)  # type: ignore[arg-type]
        option = patient_option(PatientMatch(id=patient.id or 0, name=patient.full_name,
                                             mrn=patient.mrn,
                                             date_of_birth=patient.date_of_birth))
        self.new_patient_id = option["id"]
        self.new_patient_name = option["name"]
        self.new_patient_detail = option["detail"]
        self.patient_options = NO_ROWS

    def _reset_picker(self) -> None:
        self.patient_query = ""
        self.patient_options = NO_ROWS
        self.patient_matches_label = ""
        self.new_patient_id = self.new_patient_name = self.new_patient_detail = ""

    def _new_conversation_args(self, form_data: dict) -> dict:
        return {"patient_id": parse_id(form_data.get("patient_id", "")),
                "priority": str(form_data.get("priority", "routine"))}

    # ----- page load -----
    @guarded(PAGE_ROLE)
    async def load(self, actor: Actor):
        await self._begin_load(actor)
        params = self.router.url.query_parameters
        self._close_thread()

        def first_view(session) -> None:
            if "c" in params:
                self._open_from_address(session, actor, params.get("c"))
            if "new" in params:
                # From a patient's profile ("New Message" there): that patient, chosen on
                # purpose. The plain dashboard button opens the dialog with nobody chosen.
                self._reset_picker()
                try:
                    self._choose_patient(session, actor, parse_id(params.get("new")))
                    self.new_open = True
                except ServiceError as error:
                    self.thread_error = str(error)
            self._refresh(session, actor)

        await offloop.in_session(first_view)
        # A search result: ?c=<id>&m=<seq>
        await offloop.run_db(self._jump_to, actor, params.get("m"))
        yield  # the list, counters and thread reach the browser before the chart is computed
        await offloop.in_session(self._load_analytics, actor)

    # ----- sidebar -----
    @guarded(PAGE_ROLE)
    def set_filter(self, actor: Actor, value: str):
        self.filter_by = value if value in conversation_list.FILTERS else "all"
        self.list_limit = PAGE_SIZE
        with session_scope() as session:
            self._refresh(session, actor)
        return None

    @guarded(PAGE_ROLE)
    def set_search(self, actor: Actor, value: str):
        self.search = str(value)[:100]
        self.list_limit = PAGE_SIZE
        with session_scope() as session:
            self._refresh(session, actor)
        return None

    # ----- thread status and priority -----
    def _change(self, actor: Actor, field: str, value: str) -> None:
        conversation_id = parse_id(self.open_id)
        if conversation_id is None:
            return None
        self.send_error = ""
        setter = conv.set_status if field == "status" else conv.set_priority
        with session_scope() as session:
            try:
                conversation = setter(session, actor=actor, conversation_id=conversation_id,
                                      **{field: str(value)})
            except ServiceError as error:
                self.send_error = str(error)
                return None
            self._show_header(session, actor, conversation)
            self._refresh(session, actor)
        # The other tabs hear of it from the change's domain event.
        return None

    @guarded(PAGE_ROLE)
    def set_status(self, actor: Actor, value: str):
        return self._change(actor, "status", value)

    @guarded(PAGE_ROLE)
    def set_priority(self, actor: Actor, value: str):
        return self._change(actor, "priority", value)

    # ----- New Message dialog -----
    @guarded(PAGE_ROLE)
    def set_new_open(self, actor: Actor, value: bool):
        self.new_open = bool(value)
        self.new_error = ""
        self._reset_picker()
        if self.new_open:
            with session_scope() as session:
                self._load_patient_options(session, actor)
        return None

    @guarded(PAGE_ROLE)
    def search_patients(self, actor: Actor, value: str):
        self.patient_query = str(value)[:patient_service.MAX_QUERY_CHARS]
        with session_scope() as session:
            self._load_patient_options(session, actor)
        return None

    @guarded(PAGE_ROLE)
    def choose_patient(self, actor: Actor, patient_id: str):
        self.new_error = ""
        with session_scope() as session:
            try:
                self._choose_patient(session, actor, parse_id(patient_id))
            except ServiceError as error:
                self.new_error = str(error)
        return None

    @guarded(PAGE_ROLE)
    def clear_patient(self, actor: Actor):
        self._reset_picker()
        with session_scope() as session:
            self._load_patient_options(session, actor)
        return None


def matches_label(shown: int, total: int, searching: bool) -> str:
    """What the picker's status line says about its matches."""
    if total == 0:
        return "No patient on your care teams matches." if searching else \
            "You have no patients on your care teams yet."
    noun = "patient" if total == 1 else "patients"
    if shown < total:
        return f"Showing {shown} of {total:,} {noun}: type more to narrow the list."
    return f"{total:,} {noun}"
