"""Message search over encrypted bodies, scoped to what the actor may see, newest first.

Bodies are stored only as ciphertext, so search runs on a blind index: every distinct word of a
message (lower-cased, at least two characters, split on non-word characters) becomes a keyed
HMAC token (``crypto.search_terms``), and one document per message holds its space-joined
tokens. The server never stores a searchable plaintext word.

Semantics (what a user gets):
- whole words only, case-insensitive: "dose" finds "Dose" and "dose," but not "dosage";
- every word of the query must occur in the message (AND), in any order;
- punctuation splits words: "P-100207" searches for "100207" (one-letter parts are dropped);
- results are the newest messages first, at most ``limit``; only conversations of patients the
  actor may see (``access.visible_patient_ids``) are searched.

SQLite: a contentless FTS5 table (``message_fts``; rowid = message id). The query walks the
matching posting lists in descending rowid order and stops after ``limit`` visible hits, so the
cost is O(limit) for common words and O(matches) for rare ones, never O(history).
PostgreSQL: a GIN-indexed tsvector of the same tokens. Its planner costs a LIMIT as if matches
were spread evenly over the history, so for a rare word it chose to walk the messages newest
first until it met them (0.8 s for a word in three of a million messages). A query whose
rarest word is not among the column's most common elements (``pg_stats``, refreshed by
ANALYZE) therefore collects all its matches from the GIN index first (few, by that measure)
and sorts those; a query of common words keeps the newest-first walk, which meets ``limit``
matches within a short stretch of the history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import MESSAGE_FTS, Conversation, Message, Role
from care_messaging.services.access import visibility_scope, visible_patient_ids
from care_messaging.services.actors import Actor
from care_messaging.services.hot_sql import HotStatement
from care_messaging.services.message_revisions import MessageState, current_texts

MAX_QUERY_WORDS = 8
MAX_LIMIT = 100
# PostgreSQL: a word in at least this share of all messages is common (see the module doc).
DENSE_SHARE = 0.002
COMMON_WORDS_MAX_AGE_SECONDS = 300.0
_common_words: dict[str, tuple[float, dict[str, float]]] = {}


@dataclass(frozen=True)
class SearchHit:
    message_id: int
    conversation_id: int
    patient_id: int
    seq: int
    sender_user_id: int
    created_at: datetime
    body: str


def index_document(body: str) -> str:
    """The FTS document for a message body: its sorted, space-joined blind-index tokens."""
    return " ".join(sorted(crypto.search_terms(body)))


# On the DBAPI cursor (services/hot_sql.py): one runs with every message sent.
_INDEX = {
    "sqlite": HotStatement(text(f"INSERT INTO {MESSAGE_FTS}(rowid, terms) VALUES (:id, :terms)")),
    "postgresql": HotStatement(text(
        f"INSERT INTO {MESSAGE_FTS}(rowid, terms) "
        "VALUES (:id, array_to_tsvector(string_to_array(:terms, ' ')))")),
}


def index_message(session: Session, *, message_id: int, body: str) -> None:
    """Add one message to the search index (call in the transaction that stores it)."""
    document = index_document(body)
    if not document:
        return
    _INDEX[session.get_bind().dialect.name].execute(session, {"id": message_id, "terms": document})


def searchable_text(session: Session, message: Message) -> str:
    """What the index holds for a message: its current text (the latest correction, or the
    original), and nothing once it is retracted. Every writer of the index keeps to this
    (send, retract/correct, FHIR import, key rotation), so the words a message held before a
    change can be taken out again (SQLite's contentless table needs them to delete)."""
    change = current_texts(session, [message]).get(message.id or 0)
    if change is None:
        return crypto.decrypt_body(message)[0]
    return "" if change.state == MessageState.RETRACTED else change.body


def reindex_message(session: Session, *, message_id: int, old_body: str, new_body: str) -> None:
    """Replace a message's document: out with the words of ``old_body`` (what the index holds
    now, ``searchable_text`` before the change), in with those of ``new_body`` ("" for a
    retraction: the message is found by no word). In the transaction of the change."""
    if session.get_bind().dialect.name == "sqlite":
        old = index_document(old_body)
        if old:
            # A contentless FTS5 table forgets a document by being told its exact tokens.
            session.execute(text(f"INSERT INTO {MESSAGE_FTS}({MESSAGE_FTS}, rowid, terms) "
                                 "VALUES ('delete', :id, :terms)"),
                            {"id": message_id, "terms": old})
    else:
        session.execute(text(f"DELETE FROM {MESSAGE_FTS} WHERE rowid = :id"), {"id": message_id})
    index_message(session, message_id=message_id, body=new_body)


def query_tokens(query: str) -> list[str]:
    """The tokens a query must match (sorted; at most MAX_QUERY_WORDS words)."""
    return sorted(crypto.search_terms((query or "")[:500]))[:MAX_QUERY_WORDS]


# ``access.visibility_scope`` decides who sees which patients (the one rule); these are its
# scopes as SQL over conversations ``c``, with the same bound names. A test checks that they
# select exactly ``access.visible_patient_ids``.
SCOPE_SQL = {
    "provider": "c.patient_id IN (SELECT patient_id FROM care_team_members "
                "WHERE provider_id = :provider_id)",
    "patient": "c.patient_id = :patient_id",
    "nobody": "0",
}


def _scope(actor: Actor) -> tuple[str, dict[str, object]]:
    """SQL restricting conversations ``c`` to patients the actor may see."""
    scope, values = visibility_scope(actor)
    return SCOPE_SQL[scope], dict(values)


def search_sql(dialect: str, actor: Actor, tokens: list[str], *,
               dense: bool = True) -> tuple[str, dict[str, object]]:
    """The id query for ``tokens`` (exposed for the query-plan regression tests); ``dense``:
    PostgreSQL, every word common (see the module doc)."""
    scope, params = _scope(actor)
    if dialect == "sqlite":
        params["match"] = " ".join(f'"{t}"' for t in tokens)
        # CROSS JOIN pins the FTS table as the outer loop, so SQLite consumes the ORDER BY
        # in the index (descending rowid) and stops at LIMIT instead of sorting every match.
        sql = (
            f"SELECT {MESSAGE_FTS}.rowid AS id FROM {MESSAGE_FTS} "
            f"CROSS JOIN messages AS m ON m.id = {MESSAGE_FTS}.rowid "
            "CROSS JOIN conversations AS c ON c.id = m.conversation_id "
            f"WHERE {MESSAGE_FTS} MATCH :match AND {scope} "
            f"ORDER BY {MESSAGE_FTS}.rowid DESC LIMIT :limit"
        )
    else:
        params["match"] = " & ".join(tokens)
        joins = ("JOIN messages AS m ON m.id = f.rowid "
                 "JOIN conversations AS c ON c.id = m.conversation_id "
                 f"WHERE f.terms @@ CAST(:match AS tsquery) AND {scope}")
        if dense:  # newest first through the index of ids, stopping at the limit
            sql = f"SELECT f.rowid AS id FROM {MESSAGE_FTS} AS f {joins} "
        else:
            # Every visible match, from the GIN index (MATERIALIZED and without a LIMIT
            # inside: never turned into a walk of the history), then the newest of those.
            sql = (f"WITH matches AS MATERIALIZED (SELECT f.rowid AS id FROM {MESSAGE_FTS} "
                   f"AS f {joins}) SELECT id FROM matches ")
        sql += f"ORDER BY {'f.rowid' if dense else 'id'} DESC LIMIT :limit"
    return sql, params


def common_word_shares(session: Session) -> dict[str, float]:
    """PostgreSQL: the share of messages holding each of the index's most common tokens, as
    of the last ANALYZE (read at most every few minutes per database)."""
    url = str(session.get_bind().engine.url)  # the bind is an Engine or a Connection
    cached = _common_words.get(url)
    if cached is not None and time.monotonic() - cached[0] < COMMON_WORDS_MAX_AGE_SECONDS:
        return cached[1]
    row = session.execute(text(
        "SELECT CAST(CAST(most_common_elems AS text) AS text[]), most_common_elem_freqs "
        f"FROM pg_stats WHERE tablename = '{MESSAGE_FTS}' AND attname = 'terms'")).first()
    shares = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
    _common_words[url] = (time.monotonic(), shares)
    return shares


def _all_common(session: Session, tokens: list[str]) -> bool:
    """Whether even the query's rarest word is common (every match needs all its words)."""
    shares = common_word_shares(session)
    return min(shares.get(t, 0.0) for t in tokens) >= DENSE_SHARE


def search_messages(
    session: Session, *, actor: Actor, query: str, limit: int = 20
) -> list[SearchHit]:
    """Messages the actor may see that contain every word of ``query``, newest first."""
    tokens = query_tokens(query)
    if not tokens or actor.role not in (Role.PROVIDER, Role.PATIENT):
        return []
    limit = max(1, min(int(limit), MAX_LIMIT))
    dialect = session.get_bind().dialect.name
    dense = dialect != "postgresql" or _all_common(session, tokens)
    sql, params = search_sql(dialect, actor, tokens, dense=dense)
    params["limit"] = limit
    ids = [row[0] for row in session.execute(text(sql), params).all()]
    if not ids:
        return []
    # Re-check visibility through the ORM subquery as well (defence in depth), then decrypt.
    rows = session.exec(
        select(Message, Conversation.patient_id)
        .join(Conversation, col(Conversation.id) == Message.conversation_id)
        .where(col(Message.id).in_(ids))
        .where(col(Conversation.patient_id).in_(visible_patient_ids(actor)))
    ).all()
    by_id = {m.id: (m, patient_id) for m, patient_id in rows}
    # The index holds the current words (``searchable_text``); a retracted message is still
    # skipped here, and a corrected one shows its current text (services/message_revisions.py).
    changed = current_texts(session, [m for m, _ in rows])
    hits = []
    for message_id in ids:
        if message_id not in by_id:
            continue
        message, patient_id = by_id[message_id]
        change = changed.get(message_id)
        if change is not None and change.state == MessageState.RETRACTED:
            continue
        body = change.body if change else crypto.decrypt_body(message)[0]
        hits.append(
            SearchHit(
                message_id=message.id or 0,
                conversation_id=message.conversation_id,
                patient_id=patient_id,
                seq=message.seq,
                sender_user_id=message.sender_user_id,
                created_at=message.created_at,
                body=body,
            )
        )
    return hits
