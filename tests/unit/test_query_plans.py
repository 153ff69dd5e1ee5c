"""The hot queries use indexes: a list, thread or search that starts scanning whole tables
(and so grows with the total history) fails here, on small data, in milliseconds."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlmodel import col, select

from care_messaging import crypto, db
from care_messaging.models import Conversation, Message, MessageSearchTerm
from care_messaging.services import conversations as conv
from care_messaging.services.access import visible_patient_ids
from tests.factories import clinic

BIG_TABLES = ("messages", "conversations", "message_search_terms", "audit_events", "patients")


def _plan(session, statement) -> list[str]:
    sql = str(statement.compile(db.get_engine(), compile_kwargs={"literal_binds": True}))
    return [row[3] for row in session.exec(text("EXPLAIN QUERY PLAN " + sql)).all()]


def full_scans(plan: list[str]) -> list[str]:
    """Plan steps that read a whole big table (SCAN without an index)."""
    return [step for step in plan
            if re.match(rf"SCAN ({'|'.join(BIG_TABLES)})\b", step) and " INDEX " not in step]


def _queries(people):
    lee = people["lee"]
    list_page = (conv._base_query(lee, filter_by="all", search="")
                 .order_by(col(Conversation.last_message_at).desc()).limit(30))
    unread = conv._base_query(lee, filter_by="unread", search="").limit(30)
    thread = (select(Message).where(Message.conversation_id == 1)
              .order_by(col(Message.seq).desc()).limit(50))
    term = next(iter(crypto.search_terms("rash")))
    visible = select(Conversation.id).where(col(Conversation.patient_id).in_(
        visible_patient_ids(lee)))
    search = (select(MessageSearchTerm.message_id)
              .where(MessageSearchTerm.term == term,
                     col(MessageSearchTerm.conversation_id).in_(visible))
              .order_by(col(MessageSearchTerm.message_id).desc()).limit(20))
    return {"list": list_page, "unread": unread, "thread": thread, "search": search}


def test_list_thread_and_search_queries_use_indexes(session):
    people = clinic(session)
    for name, statement in _queries(people).items():
        plan = _plan(session, statement)
        assert full_scans(plan) == [], (name, plan)
    assert any("ix_search_term_message" in s for s in _plan(session, _queries(people)["search"]))


def test_the_check_notices_a_missing_index(session):
    people = clinic(session)
    session.exec(text("DROP INDEX ix_conversations_patient_activity"))
    session.exec(text("DROP INDEX ix_search_term_message"))
    session.exec(text("DROP INDEX ix_search_term_conversation"))
    plans = {name: _plan(session, q) for name, q in _queries(people).items()}
    assert full_scans(plans["list"]) or full_scans(plans["search"])
    assert full_scans(plans["search"])
