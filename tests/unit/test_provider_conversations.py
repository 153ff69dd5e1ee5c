"""The provider's conversation list: filters, search, their combination, and scoping."""

from __future__ import annotations

import pytest

from care_messaging.services import conversation_list, receipts
from care_messaging.services import conversations as conv
from care_messaging.services import message_sending as sending
from care_messaging.services.access import access_conversation
from care_messaging.services.errors import NotFoundError
from tests.factories import add_to_team, clinic, make_patient


@pytest.fixture
def data(session):
    p = clinic(session)
    _, aisha = make_patient(session, "Aisha", "Khan", mrn="P-100214")
    add_to_team(session, aisha, _provider(session, p, "lee"))
    add_to_team(session, aisha, _provider(session, p, "patel"))
    maria = p["maria_patient"].id
    c_refill, _ = conv.create_conversation(session, actor=p["maria"], patient_id=maria,
                                           reason="Test", topic="Medication refill", body="Need a refill")
    c_labs, _ = conv.create_conversation(session, actor=p["lee"], patient_id=maria,
                                         reason="Test", topic="Lab results", body="Your labs are fine")
    c_aisha, _ = conv.create_conversation(session, actor=p["lee"], patient_id=aisha.id,
                                          reason="Test", topic="Blood pressure", body="How are readings?")
    sending.send_message(session, actor=p["patel"], conversation_id=c_aisha.id, body="Colleague note",
                         client_msg_id="patel-1")
    conv.create_conversation(session, actor=p["james"], patient_id=p["james_patient"].id,
                             reason="Test", topic="Medication rash", body="Itchy")
    return p, {"refill": c_refill.id, "labs": c_labs.id, "aisha": c_aisha.id}


def _provider(session, p, who):
    from sqlmodel import select

    from care_messaging.models import Provider
    return session.exec(select(Provider).where(Provider.user_id == p[who].user_id)).one()


def _topics(page):
    return [r.topic for r in page.rows]


def test_all_unread_read_filters(session, data):
    p, ids = data
    lee = p["lee"]
    page = conversation_list.list_conversations(session, actor=lee)
    assert page.total == 3
    assert _topics(page) == ["Blood pressure", "Lab results", "Medication refill"]
    # Lee wrote "Lab results" (read); the refill is from Maria and Aisha's has Patel's note.
    assert sorted(_topics(conversation_list.list_conversations(session, actor=lee, filter_by="unread"))) == [
        "Blood pressure", "Medication refill"]
    assert _topics(conversation_list.list_conversations(session, actor=lee, filter_by="read")) == [
        "Lab results"]
    row = conversation_list.get_row(session, actor=lee, conversation_id=ids["refill"])
    assert row.unread == 1 and row.message_count == 1 and row.patient_mrn == "P-100200"
    assert row.patient_initials == "MG"


def test_search_by_topic_name_and_patient_id(session, data):
    p, _ = data
    lee = p["lee"]
    assert _topics(conversation_list.list_conversations(session, actor=lee, search="refill")) == [
        "Medication refill"]
    assert sorted(_topics(conversation_list.list_conversations(session, actor=lee, search="garcia"))) == [
        "Lab results", "Medication refill"]
    assert _topics(conversation_list.list_conversations(session, actor=lee, search="P-100214")) == [
        "Blood pressure"]
    assert conversation_list.list_conversations(session, actor=lee, search="nothing like this").total == 0


def test_filter_and_search_combine(session, data):
    p, _ = data
    lee = p["lee"]
    assert _topics(conversation_list.list_conversations(session, actor=lee, filter_by="unread",
                                                        search="garcia")) == ["Medication refill"]
    assert _topics(conversation_list.list_conversations(session, actor=lee, filter_by="read",
                                                        search="garcia")) == ["Lab results"]
    assert conversation_list.list_conversations(session, actor=lee, filter_by="read",
                                                search="blood").total == 0


def test_opening_marks_read_and_unread_total_follows(session, data):
    p, ids = data
    lee = p["lee"]
    assert conversation_list.unread_total(session, actor=lee) == 2
    c = access_conversation(session, actor=lee, conversation_id=ids["refill"])
    receipts.mark_read(session, actor=lee, conversation=c)
    assert conversation_list.unread_total(session, actor=lee) == 1
    # Read for Lee only: Patel still has it unread.
    assert conversation_list.get_row(session, actor=p["patel"], conversation_id=ids["refill"]).unread == 1


def test_outside_provider_sees_nothing(session, data):
    p, ids = data
    out = p["outsider"]
    assert _topics(conversation_list.list_conversations(session, actor=out)) == ["Medication rash"]
    assert conversation_list.list_conversations(session, actor=out, search="garcia").total == 0
    assert conversation_list.list_conversations(session, actor=out, search="refill").total == 0
    assert conversation_list.unread_total(session, actor=out) == 1
    for cid in ids.values():
        with pytest.raises(NotFoundError):
            conversation_list.get_row(session, actor=out, conversation_id=cid)
        with pytest.raises(NotFoundError):
            access_conversation(session, actor=out, conversation_id=cid)


def test_patient_conversations_scoped(session, data):
    p, _ = data
    maria = p["maria_patient"].id
    page = conversation_list.list_patient_conversations(session, actor=p["lee"], patient_id=maria)
    assert sorted(_topics(page)) == ["Lab results", "Medication refill"]
    with pytest.raises(NotFoundError):
        conversation_list.list_patient_conversations(session, actor=p["outsider"], patient_id=maria)
    with pytest.raises(NotFoundError):
        conversation_list.list_patient_conversations(session, actor=p["lee"], patient_id=99999)


def test_paging(session, data):
    p, _ = data
    first = conversation_list.list_conversations(session, actor=p["lee"], limit=2)
    rest = conversation_list.list_conversations(session, actor=p["lee"], limit=2, offset=2)
    assert first.total == 3 and len(first.rows) == 2 and len(rest.rows) == 1
    assert set(_topics(first)).isdisjoint(_topics(rest))


def test_statements_built_once_are_still_scoped_to_each_caller(session, data):
    """The list, badge and card statements are built once per kind of actor and shared (a live
    burst refreshes every tab's list); whose list it is comes only from the bound values."""
    from care_messaging.services import stats

    p, _ = data
    before = conversation_list._list_statements.cache_info().misses
    expected = {"lee": ["Blood pressure", "Lab results", "Medication refill"],
                "patel": ["Blood pressure", "Lab results", "Medication refill"],
                "outsider": ["Medication rash"],
                "maria": ["Lab results", "Medication refill"], "james": ["Medication rash"]}
    for _round in range(2):  # interleaved callers on the same statements
        for who, topics in expected.items():
            page = conversation_list.list_conversations(session, actor=p[who])
            assert sorted(_topics(page)) == topics and page.total == len(topics), who
    assert conversation_list._list_statements.cache_info().misses - before <= 2  # provider + patient
    assert conversation_list.unread_total(session, actor=p["outsider"]) == 1
    assert conversation_list.unread_total(session, actor=p["lee"]) == 2  # Maria's refill, Dr. Patel's note
    cards = stats.dashboard_counts(session, actor=p["outsider"])
    assert (cards.total_conversations, cards.unique_patients, cards.unread_messages) == (1, 1, 1)
    cards = stats.dashboard_counts(session, actor=p["lee"])
    assert (cards.total_conversations, cards.unique_patients, cards.total_messages) == (3, 2, 4)


def test_a_list_page_and_a_receipt_cost_few_statements(session, data):
    """Every tab that follows a live burst refreshes its list and its receipts: on PostgreSQL
    each statement is a round trip. A page is its count, its ids and its rows (the latest
    message, who wrote it and who handles it come in the rows' statement); a provider's
    receipt is one statement."""
    from sqlalchemy import event

    from care_messaging import db

    p, ids = data
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    engine = db.get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = conversation_list.list_conversations(session, actor=p["lee"], limit=50)
        listed = len(seen)
        conversation = access_conversation(session, actor=p["lee"], conversation_id=ids["aisha"])
        seen.clear()
        receipts.receipt_for(session, actor=p["lee"], conversation=conversation)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert listed == 3 and len(seen) == 1
    by_topic = {r.topic: r for r in page.rows}
    assert (by_topic["Blood pressure"].preview, by_topic["Blood pressure"].last_sender_name,
            by_topic["Blood pressure"].provider_name) == ("Colleague note", "Dr. Patel", "Dr. Lee")
