"""Conversation lists: the rows a reader sees (dashboard, portal, a patient's profile), one
page at a time, and the unread badge.

Lists are paged on the server and computed from denormalised counters
(``Conversation.last_seq`` minus the reader's ``ReadState.last_read_seq``), so a page costs the
same whether the history holds a hundred messages or a million.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from care_messaging import crypto
from care_messaging.models import (
    CareTeamMember,
    Conversation,
    Message,
    Patient,
    Provider,
    ReadState,
    Role,
    User,
    patient_name,
    table_of,
)
from care_messaging.services import drafts, message_revisions, triage_list
from care_messaging.services.access import (
    access_patient,
    visibility_scope,
    visible_patient_ids,
    visible_patient_ids_bound,
)
from care_messaging.services.actors import Actor
from care_messaging.services.errors import NotFoundError

PREVIEW_CHARS = 90
FILTERS = ("all", "unread", "read", "assigned_to_me", "unassigned", "overdue")


@dataclass(frozen=True)
class ConversationRow:
    id: int
    topic: str
    patient_id: int
    patient_name: str
    patient_mrn: str
    patient_initials: str
    # Who the conversation is with, as the patient sees it: the assigned provider, or the
    # names of the care team while no provider has taken it on.
    provider_name: str
    status: str
    priority: str
    category: str
    medium: str
    reason: str
    last_message_at: datetime
    preview: str
    message_count: int
    unread: int
    # Who wrote the latest message (its preview): the name as users see it, and the user id
    # so that a page can say "You".
    last_sender_user_id: int | None = None
    last_sender_name: str = ""
    # The reader has unsent text here (services/drafts.py): the list says "Draft".
    has_draft: bool = False
    # Who on the care team is handling it (services/assignment.py), "" for nobody yet.
    assignee_user_id: int | None = None
    assignee_name: str = ""
    # Triage marks (services/triage.py): a red-flag phrase in a patient message; past the
    # reply-by time with no reply; when that reply is expected.
    red_flag: bool = False
    overdue: bool = False
    reply_by_at: datetime | None = None


@dataclass(frozen=True)
class ConversationPage:
    rows: list[ConversationRow]
    total: int


def _unread_expr() -> Any:
    return Conversation.last_seq - func.coalesce(ReadState.last_read_seq, 0)


# A row's latest message, who wrote it, and who is handling the conversation (the assignee,
# else the provider who first answered), joined into the rows' own statement: reading them
# apart cost two more round trips per list page, and a live burst refreshes the list of every
# tab that follows it.
_latest = table_of(Message).alias("latest")
_latest_sender = table_of(User).alias("latest_sender")
_handler = table_of(User).alias("handler")


def _row_columns(reader: Any) -> tuple[Any, ...]:
    """What a list row is built from, as plain columns (loading a page's 50 conversations and
    patients as ORM objects cost about a fifth of the page): ``reader`` is the reader's user id,
    a value or a bound parameter. The statement must join ``_with_latest``."""
    c, p = table_of(Conversation).c, table_of(Patient).c
    return (c.id, c.topic, c.patient_id, c.provider_user_id, c.assignee_user_id, c.status,
            c.priority, c.category, c.medium, c.reason, c.last_message_at, c.last_seq,
            c.last_message_id, c.reply_by_at, c.red_flag_at,
            p.first_name, p.last_name, p.mrn,
            _unread_expr().label("unread"), drafts.has_draft(reader).label("has_draft"),
            _latest.c.conversation_id.label("latest_conversation_id"),
            _latest.c.sender_user_id.label("latest_sender_user_id"),
            _latest.c.seq.label("latest_seq"), _latest.c.body_ct.label("latest_body_ct"),
            _latest.c.key_id.label("latest_key_id"),
            _latest.c.retracted_at.label("latest_retracted_at"),
            _latest.c.corrected_at.label("latest_corrected_at"),
            _latest_sender.c.display_name.label("latest_sender_name"),
            _handler.c.display_name.label("handler_name"))


def _with_latest(query: Any) -> Any:
    """``query`` (on conversations) joined to what ``_row_columns`` reads beside them."""
    c = table_of(Conversation).c
    return (query.outerjoin(_latest, _latest.c.id == c.last_message_id)
            .outerjoin(_latest_sender, _latest_sender.c.id == _latest.c.sender_user_id)
            .outerjoin(_handler,
                       _handler.c.id == func.coalesce(c.assignee_user_id, c.provider_user_id)))


@dataclass(frozen=True)
class _LatestMessage:
    """A row's latest message, as ``crypto.decrypt_body`` and ``message_revisions`` read it."""

    id: int
    conversation_id: int
    seq: int
    sender_user_id: int
    body_ct: bytes
    key_id: str
    retracted_at: datetime | None
    corrected_at: datetime | None


def _latest_of(row: Any) -> _LatestMessage | None:
    if not row.last_message_id or row.latest_seq is None:
        return None
    return _LatestMessage(row.last_message_id, row.latest_conversation_id, row.latest_seq,
                          row.latest_sender_user_id,
                          row.latest_body_ct, row.latest_key_id, row.latest_retracted_at,
                          row.latest_corrected_at)


def _base_query(actor: Actor, *, filter_by: str, search: str) -> Any:
    unread = _unread_expr()
    query = _with_latest(
        select(*_row_columns(actor.user_id))
        .join(Patient, col(Patient.id) == Conversation.patient_id)
        .outerjoin(
            ReadState,
            (col(ReadState.conversation_id) == Conversation.id) & (ReadState.user_id == actor.user_id),
        )
    ).where(col(Conversation.patient_id).in_(visible_patient_ids(actor)))
    if filter_by == "unread":
        query = query.where(unread > 0)
    elif filter_by == "read":
        query = query.where(unread <= 0)
    term = search.strip()
    if term:
        query = query.where(matches_search(f"%{term.lower()}%"))
    return query


def matches_search(like: Any) -> ColumnElement[bool]:
    """The list's search: a lower-cased LIKE pattern (a value or a bound parameter) against
    the topic, the patient's name and their patient ID (written once for every list query)."""
    return or_(
        func.lower(Conversation.topic).like(like),
        func.lower(Patient.first_name + " " + Patient.last_name).like(like),
        func.lower(Patient.mrn).like(like),
    )


@dataclass(frozen=True)
class _ListStatements:
    total: SelectOfScalar[int]
    page_ids: Select[Any, datetime]  # conversation id (typed int | None), last message time
    rows: Select[Any]  # _row_columns


@functools.lru_cache(maxsize=32)
def _list_statements(scope: str, filter_by: str, searching: bool) -> _ListStatements:
    """The list page's statements for one kind of actor, filter and search, built once: the
    actor's ids, the search pattern and the page bounds are bound at execution. (Building
    them on every call cost about as much as running them, and a live burst refreshes the
    list of every tab that follows it.)

    The ids come from a narrow query (ids and sort key only, joining read state or patient
    only when a filter needs them): for the plain list it is answered from
    ``ix_conversations_patient_activity`` alone (index-only), so sorting a provider's 10,000
    conversations never loads their rows. The page's rows are then loaded by primary key.
    """
    narrow = select(Conversation.id, Conversation.last_message_at).where(
        col(Conversation.patient_id).in_(visible_patient_ids_bound(scope)))
    read_state_of_reader = (col(ReadState.conversation_id) == Conversation.id) & (
        ReadState.user_id == bindparam("user_id"))
    unread = _unread_expr()
    if filter_by in ("unread", "read"):
        narrow = narrow.outerjoin(ReadState, read_state_of_reader).where(
            unread > 0 if filter_by == "unread" else unread <= 0)
    if filter_by == "assigned_to_me":
        narrow = narrow.where(Conversation.assignee_user_id == bindparam("user_id"))
    elif filter_by == "unassigned":
        narrow = narrow.where(col(Conversation.assignee_user_id).is_(None))
    elif filter_by == "overdue":
        narrow = narrow.where(*triage_list.overdue_clause(bindparam("now")))
    if searching:
        like: Any = bindparam("like")
        narrow = narrow.join(Patient, col(Patient.id) == Conversation.patient_id).where(
            matches_search(like))
    return _ListStatements(
        total=select(func.count()).select_from(narrow.subquery()),
        # Raised conversations (red flag, overdue: services/triage.py) first.
        page_ids=narrow.order_by(col(Conversation.attention).desc(),
                                 col(Conversation.last_message_at).desc(),
                                 col(Conversation.id).desc())
        .limit(bindparam("limit")).offset(bindparam("offset")),
        rows=_with_latest(select(*_row_columns(bindparam("user_id")))
                          .join(Patient, col(Patient.id) == Conversation.patient_id)
                          .outerjoin(ReadState, read_state_of_reader))
        .where(col(Conversation.id).in_(bindparam("page_ids", expanding=True))),
    )


def list_conversations(
    session: Session,
    *,
    actor: Actor,
    filter_by: str = "all",
    search: str = "",
    limit: int = 50,
    offset: int = 0,
) -> ConversationPage:
    """The conversations the actor may see, most recent activity first, one page at a time.

    Two steps keep a page O(page) in rows loaded: pick the page's ids with a narrow query, then
    load those rows (with patient and unread count) by primary key.
    """
    if filter_by not in FILTERS:
        filter_by = "all"
    term = (search or "").strip()
    scope, visible = visibility_scope(actor)
    statements = _list_statements(scope, filter_by, bool(term))
    params: dict[str, Any] = {**visible, "user_id": actor.user_id, "like": f"%{term.lower()}%",
              "now": triage_list.clock(),
              "limit": max(1, min(int(limit), 200)), "offset": max(0, int(offset))}
    total = session.exec(statements.total, params=params).one()
    page_ids = [row[0] for row in session.exec(statements.page_ids, params=params).all()]
    if not page_ids:
        return ConversationPage(rows=[], total=int(total))
    # The ids came from the access-scoped query above; load just those rows by primary key.
    found: dict[int, Any] = {row.id: row for row in session.execute(
        statements.rows, params={"user_id": actor.user_id, "page_ids": page_ids}).all()}
    rows = [found[i] for i in page_ids if i in found]
    return ConversationPage(rows=_to_rows(session, rows, actor), total=int(total))


# The active providers on each patient's care team, for conversations no provider has taken on
# yet (a patient started them): the patient sees who will answer, by name.
_TEAM_NAMES = (
    select(CareTeamMember.patient_id, User.display_name)
    .join(Provider, col(Provider.id) == CareTeamMember.provider_id)
    .join(User, col(User.id) == Provider.user_id)
    .where(col(CareTeamMember.patient_id).in_(bindparam("ids", expanding=True)), User.is_active)
    .order_by(col(CareTeamMember.id))
)
CARE_TEAM_FALLBACK = "Your care team"


def care_team_label(names: list[str]) -> str:
    """"Dr. Jordan Lee, Dr. Priya Patel and NP Sam Rivera" (at most three names)."""
    if not names:
        return CARE_TEAM_FALLBACK
    if len(names) > 3:
        return f"{', '.join(names[:3])} and {len(names) - 3} more"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _team_names(session: Session, patient_ids: list[int]) -> dict[int, str]:
    if not patient_ids:
        return {}
    teams: dict[int, list[str]] = {}
    for patient_id, name in session.exec(_TEAM_NAMES, params={"ids": patient_ids}).all():
        teams.setdefault(patient_id, []).append(name)
    return {patient_id: care_team_label(names) for patient_id, names in teams.items()}


def _to_rows(session: Session, rows: Any, actor: Actor) -> list[ConversationRow]:
    """The list rows from rows of ``_row_columns``."""
    messages = {m.id: m for m in (_latest_of(row) for row in rows) if m is not None}
    # Only the patient's pages name the team (a provider's list shows patients): no query
    # on the providers' hot path.
    teams = _team_names(session, sorted({row.patient_id for row in rows
                                         if not row.provider_user_id})
                        ) if actor.role == Role.PATIENT else {}
    # A retracted latest message previews as the notice, a corrected one as its new text.
    changed = message_revisions.current_texts(session, list(messages.values()))
    out = []
    now = triage_list.clock()
    for conversation in rows:
        message = messages.get(conversation.last_message_id)
        change = changed.get(conversation.last_message_id or 0)
        preview = change.body if change else crypto.decrypt_body(message)[0] if message else ""
        if len(preview) > PREVIEW_CHARS:
            preview = preview[: PREVIEW_CHARS - 1] + "…"
        # Whoever is handling it is who the conversation is with, for the patient too.
        provider_name = conversation.handler_name
        out.append(
            ConversationRow(
                id=conversation.id or 0,
                topic=conversation.topic,
                patient_id=conversation.patient_id,
                patient_name=patient_name(conversation.first_name, conversation.last_name),
                patient_mrn=conversation.mrn,
                patient_initials=(conversation.first_name[:1]
                                  + conversation.last_name[:1]).upper(),
                provider_name=provider_name or teams.get(conversation.patient_id,
                                                         CARE_TEAM_FALLBACK),
                status=conversation.status,
                priority=conversation.priority,
                category=conversation.category,
                medium=conversation.medium,
                reason=conversation.reason,
                last_message_at=conversation.last_message_at,
                preview=preview,
                message_count=conversation.last_seq,
                unread=max(0, int(conversation.unread)),
                last_sender_user_id=message.sender_user_id if message else None,
                last_sender_name=(conversation.latest_sender_name or "") if message else "",
                has_draft=bool(conversation.has_draft),
                assignee_user_id=conversation.assignee_user_id,
                # The handler is the assignee whenever there is one.
                assignee_name=(conversation.handler_name or "")
                if conversation.assignee_user_id else "",
                **triage_list.row_marks(conversation, now),
            )
        )
    return out


def get_row(session: Session, *, actor: Actor, conversation_id: int) -> ConversationRow:
    """One list row for a conversation the actor may see (NotFoundError otherwise)."""
    base = _base_query(actor, filter_by="all", search="").where(Conversation.id == conversation_id)
    rows = session.exec(base).all()
    if not rows:
        raise NotFoundError("Conversation not found.")
    return _to_rows(session, rows, actor)[0]


@functools.lru_cache(maxsize=8)
def _unread_total_statement(scope: str) -> Any:
    unread = _unread_expr()
    return (
        select(func.coalesce(func.sum(unread), 0))
        .select_from(Conversation)
        .outerjoin(
            ReadState,
            (col(ReadState.conversation_id) == Conversation.id)
            & (ReadState.user_id == bindparam("user_id")),
        )
        .where(col(Conversation.patient_id).in_(visible_patient_ids_bound(scope)), unread > 0)
    )


def unread_total(session: Session, *, actor: Actor) -> int:
    """Unread messages across everything the actor may see (for the navigation badge)."""
    scope, params = visibility_scope(actor)
    return int(session.exec(_unread_total_statement(scope),
                            params={**params, "user_id": actor.user_id}).one())


def list_patient_conversations(
    session: Session, *, actor: Actor, patient_id: int, limit: int = 50, offset: int = 0
) -> ConversationPage:
    """One patient's conversations (access-checked: NotFoundError when not visible)."""
    access_patient(session, actor=actor, patient_id=patient_id)
    limit = max(1, min(int(limit), 200))
    base = _base_query(actor, filter_by="all", search="").where(
        Conversation.patient_id == patient_id
    )
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(
        base.order_by(col(Conversation.last_message_at).desc(), col(Conversation.id).desc())
        .limit(limit)
        .offset(max(0, int(offset)))
    ).all()
    return ConversationPage(rows=_to_rows(session, rows, actor), total=int(total))
