"""Whole-word search over encrypted messages, scoped to what the actor may see."""

from __future__ import annotations

from care_messaging.services import conversations as conv
from care_messaging.services.messages import send_message
from care_messaging.services.search import search_messages
from tests.factories import clinic


def test_search_finds_whole_words_newest_first_and_only_visible(session):
    people = clinic(session)
    mine, _ = conv.create_conversation(session, actor=people["maria"], patient_id=None,
                                       topic="Rash", body="The rash is itchy")
    send_message(session, actor=people["lee"], conversation_id=mine.id,
                 body="Use the cream twice daily for the rash", client_msg_id="r2")
    other, _ = conv.create_conversation(session, actor=people["james"], patient_id=None,
                                        topic="Rash too", body="My rash spreads")
    hits = search_messages(session, actor=people["lee"], query="RASH")
    assert [h.snippet for h in hits] == ["Use the cream twice daily for the rash",
                                         "The rash is itchy"]
    assert all(h.conversation_id == mine.id for h in hits)
    assert [h.snippet for h in search_messages(session, actor=people["lee"],
                                               query="cream rash")] == [hits[0].snippet]
    assert search_messages(session, actor=people["lee"], query="ras") == []  # whole words
    assert [h.conversation_id for h in search_messages(session, actor=people["outsider"],
                                                       query="rash")] == [other.id]
    assert search_messages(session, actor=people["james"], query="cream") == []
