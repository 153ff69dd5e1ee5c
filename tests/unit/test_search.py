"""Message search: whole words over the blind index, scoped, newest first, no plaintext stored."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from care_messaging.services.search import search_messages
from tests.factories import clinic
from tests.unit.test_messages import pg_engine  # noqa: F401 - fixture


def _setup(session):
    people = clinic(session)
    maria, _ = create_conversation(
        session, actor=people["lee"], patient_id=people["maria_patient"].id,
        reason="Test", topic="Dose", body="Please lower the Metformin dose to 500 mg.",
    )
    for i, body in enumerate(["Dizziness after the dose change?", "Dosage questions", "ok"]):
        send_message(session, actor=people["maria"], conversation_id=maria.id, body=body,
                     client_msg_id=f"m{i}")
    james, _ = create_conversation(
        session, actor=people["outsider"], patient_id=people["james_patient"].id,
        reason="Test", topic="Dose", body="Your dose of metformin is fine. Ref P-100207",
    )
    session.commit()
    return people, maria, james


def test_whole_words_and_newest_first(session):
    people, maria, _ = _setup(session)
    hits = search_messages(session, actor=people["lee"], query="DOSE")
    assert [h.body for h in hits] == [
        "Dizziness after the dose change?", "Please lower the Metformin dose to 500 mg.",
    ]
    assert all(h.conversation_id == maria.id for h in hits)
    # Whole words only: "dos" and "dosage" are different words from "dose".
    assert search_messages(session, actor=people["lee"], query="dos") == []
    assert [h.body for h in search_messages(session, actor=people["lee"], query="dosage")] == [
        "Dosage questions"
    ]
    # Every word must occur.
    assert len(search_messages(session, actor=people["lee"], query="metformin dose")) == 1
    assert search_messages(session, actor=people["lee"], query="metformin dizziness") == []
    assert search_messages(session, actor=people["lee"], query="  ") == []


def test_scoped_to_visible_patients(session):
    people, _, james = _setup(session)
    assert search_messages(session, actor=people["lee"], query="P-100207") == []
    hits = search_messages(session, actor=people["outsider"], query="P-100207")
    assert [h.conversation_id for h in hits] == [james.id]
    assert len(search_messages(session, actor=people["maria"], query="dose")) == 2
    assert search_messages(session, actor=people["james"], query="dizziness") == []


def test_index_holds_no_plaintext(session):
    _setup(session)
    rows = session.execute(text("SELECT * FROM message_fts_idx")).all()
    blob = b"".join(r[1] if isinstance(r[1], bytes) else str(r[1]).encode() for r in rows)
    assert b"metformin" not in blob.lower() and b"dose" not in blob.lower()
    assert session.execute(text("SELECT count(*) FROM message_fts_data")).one()[0] > 0


def test_limit(session):
    people, maria, _ = _setup(session)
    for i in range(30):
        send_message(session, actor=people["lee"], conversation_id=maria.id,
                     body=f"dose check {i}", client_msg_id=f"d{i}")
    hits = search_messages(session, actor=people["lee"], query="dose", limit=5)
    assert [h.body for h in hits] == [f"dose check {i}" for i in (29, 28, 27, 26, 25)]


@pytest.mark.usefixtures("pg_engine")
def test_search_on_postgresql(pg_engine):  # noqa: F811
    from sqlmodel import Session

    with Session(pg_engine, expire_on_commit=False) as session:
        people, _maria, _james = _setup(session)
        hits = search_messages(session, actor=people["lee"], query="dose")
        assert [h.body for h in hits] == [
            "Dizziness after the dose change?", "Please lower the Metformin dose to 500 mg.",
        ]
        assert search_messages(session, actor=people["lee"], query="P-100207") == []
        assert len(search_messages(session, actor=people["outsider"], query="p-100207")) == 1
