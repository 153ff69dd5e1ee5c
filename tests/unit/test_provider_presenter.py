"""Display rows for the provider pages: labels, timestamps, "You" for one's own messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from care_messaging.presenters.provider import conversation_row, message_row, when
from care_messaging.services import conversation_list
from care_messaging.services import conversations as conv
from care_messaging.services import message_sending as sending
from tests.factories import clinic


def test_when_is_an_iso_utc_instant_for_the_browser_to_show_locally():
    assert when(datetime(2026, 3, 5, 9, 7, 4, tzinfo=UTC)) == "2026-03-05T09:07:04Z"
    plus2 = timezone(timedelta(hours=2))
    assert when(datetime(2026, 3, 5, 11, 7, tzinfo=plus2)) == "2026-03-05T09:07:00Z"
    # SQLite hands back naive datetimes, which are UTC.
    assert when(datetime(2026, 3, 5, 9, 7)) == "2026-03-05T09:07:00Z"
    assert when(None) == ""


def test_rows_name_senders_and_link_to_profile(session):
    p = clinic(session)
    maria_id = p["maria_patient"].id
    c, first = conv.create_conversation(session, actor=p["maria"], patient_id=maria_id,
                                        reason="Test", topic="Refill", body="<b>hi</b>")
    reply = sending.send_message(session, actor=p["patel"], conversation_id=c.id, body="On it",
                                 client_msg_id="x1")
    own = sending.send_message(session, actor=p["lee"], conversation_id=c.id, body="Done",
                               client_msg_id="x2")
    rows = [message_row(r.message, p["lee"]) for r in (first, reply, own)]
    assert [r["sender"] for r in rows] == ["Maria Garcia", "Dr. Patel", "You"]
    assert rows[0]["body"] == "<b>hi</b>"  # kept verbatim; the page renders it as text
    assert [r["mine"] for r in rows] == ["", "", "1"]
    row = conversation_row(conversation_list.get_row(session, actor=p["patel"], conversation_id=c.id))
    assert row["href"] == f"/dashboard?c={c.id}"
    assert row["patient_href"] == f"/patients?id={maria_id}"
    assert row["count_label"] == "3 messages" and row["unread"] == "1"
    assert row["initials"] == "MG" and row["mrn"] == "P-100200"
