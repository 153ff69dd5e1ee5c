"""Search after a correction or retraction: a corrected message is found by its corrected
words and no longer by words only in the text it replaced; a retracted one by none of its
words. Checked on the index itself (not only on what search filters out afterwards), on
SQLite and on PostgreSQL, and for a message imported with its corrections."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from care_messaging.models import MESSAGE_FTS
from care_messaging.services import search
from care_messaging.services.conversations import create_conversation
from care_messaging.services.fhir_revisions import Change, searchable_after
from care_messaging.services.message_changes import correct_message, retract_message
from care_messaging.services.message_sending import send_message
from care_messaging.services.search import search_messages
from tests.factories import clinic
from tests.unit.test_messages import pg_engine  # noqa: F401 - fixture


def _setup(session):
    people = clinic(session)
    conversation, _ = create_conversation(
        session, actor=people["lee"], patient_id=people["maria_patient"].id,
        reason="Test", topic="Lab results", body="Your potassium is normal.")
    sent = send_message(session, actor=people["lee"], conversation_id=conversation.id,
                        body="Take the amoxicillin twice daily", client_msg_id="m-1")
    session.commit()  # the caller's unit of work (services never commit)
    return people, sent.message.id


def _found(session, actor, query) -> list[int]:
    return [h.message_id for h in search_messages(session, actor=actor, query=query)]


def _indexed(session, actor, message_id: int, word: str) -> bool:
    """Whether the index itself holds ``word`` for the message (search filters nothing)."""
    sql, params = search.search_sql(session.get_bind().dialect.name, actor,
                                    search.query_tokens(word))
    params["limit"] = 100
    return message_id in [r[0] for r in session.execute(text(sql), params).all()]


def _both_directions(session):
    people, mid = _setup(session)
    lee, maria = people["lee"], people["maria"]
    assert _found(session, maria, "amoxicillin") == [mid]
    correct_message(session, actor=lee, message_id=mid,
                    body="Take the doxycycline twice daily")
    session.commit()
    for who in (lee, maria, people["patel"]):
        assert _found(session, who, "doxycycline") == [mid]
        assert _found(session, who, "amoxicillin") == []
        assert _found(session, who, "twice daily") == [mid]  # words in both texts still match
    assert not _indexed(session, lee, mid, "amoxicillin") and _indexed(session, lee, mid, "doxycycline")
    # A second correction replaces the first one's words in turn.
    correct_message(session, actor=lee, message_id=mid, body="Take the cefalexin once daily")
    session.commit()
    assert _found(session, maria, "cefalexin") == [mid]
    assert _found(session, maria, "doxycycline") == [] == _found(session, maria, "twice")
    assert not _indexed(session, lee, mid, "doxycycline")
    # Retracted: found by none of its words, and gone from the index itself.
    retract_message(session, actor=lee, message_id=mid)
    session.commit()
    assert _found(session, lee, "cefalexin") == []
    assert not _indexed(session, lee, mid, "cefalexin") and not _indexed(session, lee, mid, "daily")
    # Other messages keep their words (the delete took out this document only).
    assert _found(session, lee, "potassium") != []


def test_sqlite_finds_the_corrected_words_and_not_the_replaced_ones(session):
    _both_directions(session)
    if session.get_bind().dialect.name == "sqlite":
        # The contentless table's own check: no posting left behind or missing.
        session.execute(text(f"INSERT INTO {MESSAGE_FTS}({MESSAGE_FTS}, rank) "
                             "VALUES ('integrity-check', 0)"))


def test_postgresql_finds_the_corrected_words_and_not_the_replaced_ones(pg_engine):  # noqa: F811
    with Session(pg_engine, expire_on_commit=False) as session:
        _both_directions(session)
        rows = session.execute(text(f"SELECT count(*) FROM {MESSAGE_FTS}")).scalar_one()
        assert rows == 1  # the opening message only: the retracted one has no document


def test_an_imported_message_is_indexed_by_what_it_says_now():
    from datetime import UTC, datetime

    at = datetime(2026, 1, 1, tzinfo=UTC)
    fix = Change(kind="correct", text="new words", at=at, editor_user_id=1)
    assert searchable_after("old words", []) == "old words"
    assert searchable_after("old words", [fix]) == "new words"
    assert searchable_after("old words", [fix, Change(kind="retract", text="", at=at,
                                                      editor_user_id=1)]) == ""
