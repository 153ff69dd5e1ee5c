"""Query plans of the hot read paths stay index-driven (real SQLite, small data).

Every statement that list_conversations, unread_total, list_messages and search_messages run is
captured and EXPLAINed. A plan that scans the ``messages`` or ``conversations`` table without
an index, or sorts a whole result in a temp B-tree where an index should give the order, fails
the test: that is the plan that grows with the clinic's history.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, text
from sqlmodel import select

from care_messaging.models import Conversation, User
from care_messaging.services.actors import actor_for_user
from care_messaging.services.conversation_list import list_conversations, unread_total
from care_messaging.services.message_views import list_messages
from care_messaging.services.search import search_messages
from care_messaging.services.seed import seed_demo

BIG_TABLES = ("messages", "conversations", "message_fts", "message_daily_counts")
FULL_SCAN = re.compile(r"\bSCAN (\w+)(?: AS \w+)?$")


def plan_problems(session, sql: str, params, *, allow_sort: bool = False) -> list[str]:
    """Plan lines that mean work proportional to a whole table."""
    rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
    problems = []
    for row in rows:
        detail = row[-1]
        match = FULL_SCAN.search(detail)
        if match and match.group(1) in BIG_TABLES:
            problems.append(detail)
        if "USE TEMP B-TREE FOR ORDER BY" in detail and not allow_sort:
            problems.append(detail)
    return problems


class Captured:
    def __init__(self, engine):
        self.engine = engine
        self.statements: list[tuple[str, object]] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT"):
            self.statements.append((statement, parameters))


@pytest.fixture
def demo(session):
    seed_demo(session, conversations=60, messages=900)
    lee = session.exec(select(User).where(User.email == "jordan.lee@demo.care")).one()
    busiest = session.exec(
        select(Conversation).order_by(Conversation.last_seq.desc())  # type: ignore[attr-defined]
    ).first()
    return actor_for_user(session, lee), busiest


def _problems_of(session, call, *, allow_sort=False) -> list[str]:
    engine = session.get_bind()
    with Captured(engine) as captured:
        call()
    assert captured.statements, "nothing was queried"
    problems = []
    for sql, params in captured.statements:
        problems += [f"{p}  <- {sql[:160]}" for p in
                     plan_problems(session, sql, params, allow_sort=allow_sort)]
    return problems


def test_conversation_list_uses_indexes(session, demo):
    # The page is found through the care team: care_team_members -> conversations by patient
    # (index) -> read state (primary key), then a LIMIT-bounded sort of the actor's own
    # conversations. That sort is O(visible conversations), never O(messages); a plan that
    # scans the conversations table or touches messages beyond the page fails.
    actor, _ = demo
    assert _problems_of(session, lambda: list_conversations(session, actor=actor),
                        allow_sort=True) == []
    assert _problems_of(session, lambda: list_conversations(
        session, actor=actor, filter_by="unread", limit=20, offset=20), allow_sort=True) == []


def test_unread_total_uses_indexes(session, demo):
    actor, _ = demo
    assert _problems_of(session, lambda: unread_total(session, actor=actor),
                        allow_sort=True) == []


def test_dashboard_cards_and_chart_never_touch_the_messages(session, demo):
    """The cards come from conversation counters and the chart from per-patient daily counts:
    neither may read the messages table (that grows with the whole history)."""
    from care_messaging.services import stats

    actor, _ = demo
    for call in (lambda: stats.dashboard_counts(session, actor=actor),
                 lambda: stats.messages_per_day(session, actor=actor)):
        engine = session.get_bind()
        with Captured(engine) as captured:
            call()
        assert captured.statements
        assert not any(re.search(r"\bFROM messages\b|\bJOIN messages\b", sql)
                       for sql, _ in captured.statements), captured.statements
        assert _problems_of(session, call, allow_sort=True) == []


def test_thread_page_uses_indexes(session, demo):
    _, conversation = demo
    assert _problems_of(session, lambda: list_messages(session, conversation_id=conversation.id)) == []
    assert _problems_of(session, lambda: list_messages(
        session, conversation_id=conversation.id, before_seq=5, limit=3)) == []


def test_search_uses_fts_and_rowid_order(session, demo):
    actor, _ = demo
    problems = _problems_of(session, lambda: search_messages(session, actor=actor, query="dose"))
    assert problems == []
    sql = next(s for s, _ in _captured_search(session, actor))
    assert "message_fts" in sql


def test_list_page_ids_come_from_the_covering_index(session, demo):
    actor, _ = demo
    with Captured(session.get_bind()) as captured:
        list_conversations(session, actor=actor)
    # The page ids (the statement that sorts): attention first, then activity, answered from
    # the index alone, never by reading each conversation's row.
    sql, params = next((s, p) for s, p in captured.statements if "ORDER BY" in s)
    assert "attention" in sql
    plans = [row[-1] for row in
             session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert any("COVERING INDEX ix_conversations_patient_activity" in p for p in plans), plans


def _captured_search(session, actor):
    with Captured(session.get_bind()) as captured:
        search_messages(session, actor=actor, query="blood pressure")
    return captured.statements


def test_dropping_an_index_is_caught(session, demo):
    """The check has teeth: without the activity index the list query sorts everything."""
    actor, conversation = demo
    session.execute(text("DROP INDEX ix_conversations_activity"))
    session.execute(text("DROP INDEX ix_conversations_patient_activity"))
    problems = _problems_of(session, lambda: list_conversations(session, actor=actor),
                            allow_sort=True)
    assert any("SCAN conversations" in p for p in problems), problems
    # The thread's index is the (conversation_id, seq) unique constraint, which cannot be
    # dropped; show the checker flags the plan a missing index would give.
    unindexed = "SELECT id FROM messages NOT INDEXED WHERE conversation_id = ? ORDER BY seq DESC"
    assert plan_problems(session, unindexed, (conversation.id,)) != []
