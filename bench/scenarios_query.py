"""Query-level scenarios: the services the pages call, timed in-process against the big data set.

Each sample opens its own session (``db.session_scope``) like a handler does, so connection
checkout and the ORM's row building are part of the number.
"""

from __future__ import annotations

import uuid

from sqlmodel import select

from bench.stats import SqlTimer, profile, result, summary, timed
from care_messaging.db import get_engine, session_scope
from care_messaging.models import Conversation, Patient, User
from care_messaging.services.actors import actor_for_user
from care_messaging.services.conversation_list import list_conversations
from care_messaging.services.message_sending import send_message
from care_messaging.services.message_views import list_messages
from care_messaging.services.search import search_messages

TARGETS = {"conversation_list": 20.0, "unread_stats": 20.0, "search": 50.0, "thread": 200.0}


def _actor(email: str):
    with session_scope() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        return actor_for_user(session, user)


def _finish(name: str, ms: list[float], target: float, measure: str, fn, **extra) -> dict:
    s = summary(ms)
    rec = result(s[measure], "ms", target, samples=len(ms), measure=measure, **s, **extra)
    if rec["met"] is False:
        rec["profile"] = profile(name, fn)
    return rec


def conversation_list(plan, samples: int) -> dict:
    actor = _actor(plan.provider_email)

    def first_page():
        with session_scope() as session:
            page = list_conversations(session, actor=actor, limit=50)
        assert len(page.rows) == 50 and page.total == plan.conversations_visible, page.total
        return page

    ms = timed(first_page, samples)
    sql_ms = []
    for _ in range(max(10, samples // 4)):
        with SqlTimer(get_engine()) as sql:
            first_page()
        sql_ms.append(sql.total)

    def unread_page():
        with session_scope() as session:
            return list_conversations(session, actor=actor, filter_by="unread", limit=50)

    unread_ms = summary(timed(unread_page, max(10, samples // 4)))
    return _finish("conversation_list", ms, TARGETS["conversation_list"], "p50", first_page,
                   conversations=plan.conversations_visible, unread_filter_ms=unread_ms,
                   sql_only_ms=summary(sql_ms),
                   query="services.conversations.list_conversations(limit=50), page 1")


def _stats_fn():
    """What a new message recomputes on the dashboard: the four cards' counters, as the page
    runs them (the chart refreshes on page load)."""
    from care_messaging.services.stats import dashboard_counts

    return dashboard_counts


def unread_stats(plan, samples: int) -> dict:
    provider = _actor(plan.provider_email)
    with session_scope() as session:
        patient_user = session.exec(
            select(User).where(User.email == plan.patient_emails[0])).one()
        patient_actor = actor_for_user(session, patient_user)
        conversation_id = session.exec(
            select(Conversation.id).join(Patient, Patient.id == Conversation.patient_id)
            .where(Patient.user_id == patient_user.id)).first()
    stats = _stats_fn()
    ms: list[float] = []

    def recompute():
        # dashboard_counts includes the unread total (what the page runs after a message)
        with session_scope() as session:
            return stats(session, actor=provider)

    import time

    for i in range(samples):
        with session_scope() as session:
            send_message(session, actor=patient_actor, conversation_id=conversation_id,
                         body=f"bench unread probe {i}", client_msg_id=uuid.uuid4().hex)
        t = time.perf_counter()
        recompute()
        ms.append((time.perf_counter() - t) * 1000)
    note = "stats.dashboard_counts: the four cards and the unread total"
    return _finish("unread_stats", ms, TARGETS["unread_stats"], "p50", recompute, note=note)


def search(plan, samples_per_query: int) -> dict:
    actor = _actor(plan.provider_email)
    by_kind: dict[str, list[float]] = {}
    hits: dict[str, int] = {}
    all_ms: list[float] = []
    for kind, queries in plan.search_queries.items():
        for q in queries:
            def run(q=q):
                with session_scope() as session:
                    return search_messages(session, actor=actor, query=q, limit=20)

            hits[q] = len(run())
            ms = timed(run, samples_per_query, warmup=1)
            by_kind.setdefault(kind, []).extend(ms)
            all_ms.extend(ms)
    queries = sum(len(v) for v in plan.search_queries.values())
    worst = max(plan.search_queries["common"], key=lambda q: hits.get(q, 0))

    def worst_run():
        with session_scope() as session:
            return search_messages(session, actor=actor, query=worst, limit=20)

    return _finish("search", all_ms, TARGETS["search"], "p95", worst_run, queries=queries,
                   by_kind={k: summary(v) for k, v in by_kind.items()},
                   hits_per_query=hits, messages=plan.messages)


def thread(plan, samples: int) -> dict:
    actor = _actor(plan.provider_email)
    from care_messaging.services.access import access_conversation

    def open_thread():
        with session_scope() as session:
            conversation = access_conversation(session, actor=actor,
                                               conversation_id=plan.big_conversation_id)
            rows = list_messages(session, conversation_id=conversation.id, limit=50)
        assert len(rows) == 50
        return rows

    def query_only():
        with session_scope() as session:
            return list_messages(session, conversation_id=plan.big_conversation_id, limit=50)

    with session_scope() as session:
        size = session.get(Conversation, plan.big_conversation_id).last_seq
    q = summary(timed(query_only, samples))
    ms = timed(open_thread, samples)
    return _finish("thread", ms, TARGETS["thread"], "p50", open_thread, thread_messages=size,
                   list_messages_only_ms=q,
                   query="access_conversation + list_messages(latest 50, decrypted)")


def run_all(plan, *, quick: bool = False, only: list[str] | None = None) -> dict[str, dict]:
    n = 30 if quick else 200
    out = {}
    for name, fn, arg in (
        ("conversation_list_query", conversation_list, n),
        ("unread_and_stats", unread_stats, 20 if quick else 100),
        ("search", search, 3 if quick else 10),
        ("thread_first_page", thread, n),
    ):
        if only is not None and name not in only:
            continue
        print(f"  scenario {name} ...", flush=True)
        out[name] = fn(plan, arg)
        rec = out[name]
        print(f"    {rec['measure']} = {rec['value']} {rec['unit']} (target {rec['target']}) "
              f"met={rec['met']}", flush=True)
    return out
