"""Search on PostgreSQL stays driven by the full-text index at scale (real PostgreSQL).

The planner costs a LIMIT as if matches were spread evenly over the history: for a rare word
it walked the messages (or the index rows) newest first until it met the few matches, 0.2-0.8
s for a word in three messages of a million (bench scale-out run of 2026-11-29), where the GIN
index finds them in milliseconds. The messages here are made in the database itself
(generate_series), enough of them for the planner to make that choice; the test fails if a
rare word's plan walks in id order instead of asking the GIN index, or if a common word's
plan stops being the newest-first walk that meets the limit at once.
"""

from __future__ import annotations

from sqlalchemy import event, text
from sqlmodel import Session

from care_messaging import crypto
from care_messaging.crypto import message_aad
from care_messaging.services import conversations as conv
from care_messaging.services import search
from tests.factories import clinic
from tests.unit.test_messages import pg_engine  # noqa: F401 - fixture

MESSAGES = 400_000
RARE_EVERY = 150_000  # ids 7, 150007 and 300007 carry the rare word


def _fill(session: Session, conversation_id: int, sender_user_id: int) -> None:
    """MESSAGES messages in one conversation, each holding the common word."""
    # One ciphertext for all (its associated data names the first); the newest page, which
    # the search decrypts, is re-encrypted for its own rows below.
    body_ct, key_id = crypto.encrypt_text("blood", aad=message_aad(conversation_id, 1001,
                                                                   sender_user_id))
    session.execute(text(
        "INSERT INTO messages (conversation_id, sender_user_id, seq, client_msg_id, body_ct, "
        "key_id, created_at) SELECT :cid, :sender, 1000 + g, 'b' || g, :ct, :key, now() "
        "FROM generate_series(1, :count) AS g"),
        {"cid": conversation_id, "sender": sender_user_id, "ct": body_ct, "key": key_id,
         "count": MESSAGES})
    session.execute(text(
        "INSERT INTO message_fts (rowid, terms) SELECT id, CAST(CASE WHEN id % :every = 7 "
        "THEN :rare ELSE :common END AS tsvector) FROM messages WHERE seq >= 1000"),
        {"every": RARE_EVERY, "rare": search.index_document("blood melbrodal"),
         "common": search.index_document("blood")})
    for seq in range(1000 + MESSAGES - 40, 1000 + MESSAGES + 1):
        session.execute(text("UPDATE messages SET body_ct = :ct WHERE conversation_id = :cid "
                             "AND seq = :seq"), {
            "ct": crypto.encrypt_text("blood", aad=message_aad(conversation_id, seq,
                                                                sender_user_id))[0],
            "cid": conversation_id, "seq": seq})
    session.commit()
    session.execute(text("ANALYZE"))
    search._common_words.clear()


def _search_and_plan(session: Session, actor, query: str) -> tuple[list, str]:
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        if "message_fts" in statement and "pg_stats" not in statement:
            seen.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        hits = search.search_messages(session, actor=actor, query=query)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    sql, params = seen[0]
    plan = session.connection().exec_driver_sql(f"EXPLAIN {sql}", params).all()
    return hits, "\n".join(row[0] for row in plan)


def test_search_plans_ask_the_index_for_rare_words_and_walk_for_common_ones(
        pg_engine):  # noqa: F811
    with Session(pg_engine, expire_on_commit=False) as session:
        people = clinic(session)
        conversation, _ = conv.create_conversation(
            session, actor=people["maria"], patient_id=None, reason="Test", topic="Readings", body="hello")
        _fill(session, conversation.id, people["maria"].user_id)

        hits, plan = _search_and_plan(session, people["lee"], "melbrodal")
        assert [h.seq for h in hits] == [1000 + 300007 - 1, 1000 + 150007 - 1, 1000 + 7 - 1]
        assert "Bitmap Index Scan on ix_message_fts_terms" in plan, plan
        assert "Index Scan Backward" not in plan and "Merge Join" not in plan, plan

        hits, plan = _search_and_plan(session, people["lee"], "Blood")
        assert len(hits) == 20 and hits[0].body == "blood"
        assert [h.seq for h in hits] == sorted((h.seq for h in hits), reverse=True)
        assert "Index Scan Backward" in plan and "Bitmap" not in plan, plan
