"""Live delivery stays cheap as a thread grows: a new message changes only the thread's short
tail (Reflex resends a changed list whole), the receiving tab shows a message the event
carries without querying, a gap is read from the database, and a user's tabs share one
list/counter computation per burst."""

from __future__ import annotations

import uuid

from sqlalchemy import event

from care_messaging import db, realtime
from care_messaging.pages.dashboard import DashboardState
from care_messaging.pages.portal import PortalState
from care_messaging.services import conversation_list
from care_messaging.services import conversations as conv
from care_messaging.services import message_sending as sending
from care_messaging.state import thread_window
from care_messaging.state.auth import live_actor
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, deliver, make_state, sign_in_token, thread


class Statements:
    """Every SQL statement the app's engine runs inside the block."""

    def __init__(self) -> None:
        self.engine = db.get_engine()
        self.seen: list[str] = []

    def _record(self, _conn, _cursor, statement, *_args) -> None:
        self.seen.append(statement)

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def _send(session, actor, conversation_id: int, body: str) -> sending.SendResult:
    result = sending.send_message(session, actor=actor, conversation_id=conversation_id, body=body,
                                  client_msg_id=uuid.uuid4().hex)
    session.commit()  # the test is the caller: its unit of work commits
    return result


def _message_event(result: sending.SendResult, actor, *, carry: bool = True) -> realtime.LiveEvent:
    return realtime.LiveEvent(kind="message", conversation_id=result.message.conversation_id,
                              patient_id=result.patient_id, actor_user_id=actor.user_id,
                              seq=result.message.seq, message=result.message if carry else None)


async def _open_dashboard(session, people, conversation_id: int):
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard",
                       query=f"c={conversation_id}")
    await call(state, "load")
    await live_actor(state)  # the tab's session check is cached for a second, as in a live burst
    state.dirty_vars.clear()
    return state


async def _lee_reading_marias_thread(session):
    """Maria's conversation, open in Dr. Lee's dashboard tab."""
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Dizzy", body="Since Monday")
    session.commit()
    return people, conversation, await _open_dashboard(session, people, conversation.id)


async def _maria_reading_her_thread(session):
    """Maria's conversation, open in her own portal tab."""
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Dizzy", body="Since Monday")
    session.commit()
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    tab = make_state(PortalState, token=token, path="/portal", query=f"c={conversation.id}")
    await call(tab, "load")
    return people, conversation, tab


async def test_a_carried_message_is_shown_without_any_query_and_only_the_tail_changes(session):
    people, conversation, state = await _lee_reading_marias_thread(session)
    result = _send(session, people["maria"], conversation.id, "Worse today")

    with Statements() as statements:
        needs_follow_up = await state._apply_live_event(_message_event(result, people["maria"]))
    assert statements.seen == []
    assert needs_follow_up  # read marks, list and counters follow, coalesced
    assert [m["body"] for m in thread(state)] == ["Since Monday", "Worse today"]
    assert "recent" in state.dirty_vars and "messages" not in state.dirty_vars


async def test_a_gap_is_read_from_the_database(session):
    people, conversation, state = await _lee_reading_marias_thread(session)
    _send(session, people["maria"], conversation.id, "Missed one")  # its event never came
    result = _send(session, people["maria"], conversation.id, "Second")

    with Statements() as statements:
        await state._apply_live_event(_message_event(result, people["maria"]))
    assert statements.seen  # access re-checked and the missing message read
    assert [m["body"] for m in thread(state)] == ["Since Monday", "Missed one", "Second"]


async def test_an_event_shown_already_costs_no_query(session):
    """A follow-up that ran first showed the message with the ones before it (under load its
    event can arrive after that): nothing is read and nothing is shown twice."""
    people, conversation, state = await _lee_reading_marias_thread(session)
    first = _send(session, people["maria"], conversation.id, "First")
    second = _send(session, people["maria"], conversation.id, "Second")
    await state._apply_live_event(_message_event(second, people["maria"]))  # a gap: read
    with Statements() as statements:
        needs_follow_up = await state._apply_live_event(_message_event(first, people["maria"]))
        await state._apply_live_event(_message_event(first, people["maria"], carry=False))
    assert statements.seen == []
    assert needs_follow_up
    assert [m["body"] for m in thread(state)] == ["Since Monday", "First", "Second"]


async def test_an_event_without_the_message_still_shows_it(session):
    people, conversation, state = await _lee_reading_marias_thread(session)
    result = _send(session, people["maria"], conversation.id, "From another worker")
    await deliver(state, _message_event(result, people["maria"], carry=False))
    assert [m["body"] for m in thread(state)][-1] == "From another worker"


async def test_a_long_burst_folds_the_tail_and_keeps_every_message_once(session):
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Dizzy", body="m0")
    session.commit()
    state = await _open_dashboard(session, people, conversation.id)
    sizes = []
    for i in range(1, 2 * thread_window.RECENT_ROWS + 5):
        result = _send(session, people["maria"], conversation.id, f"m{i}")
        await state._apply_live_event(_message_event(result, people["maria"]))
        sizes.append(len(state.recent))
    assert max(sizes) <= thread_window.RECENT_ROWS
    bodies = [m["body"] for m in thread(state)]
    assert bodies == [f"m{i}" for i in range(2 * thread_window.RECENT_ROWS + 5)]


async def test_the_senders_own_message_replaces_its_bubble_without_rereading(session):
    _people, _conversation, state = await _maria_reading_her_thread(session)
    events = state.send_reply({"body": "Still dizzy", "client_msg_id": "c-9"})
    state.dirty_vars.clear()
    with Statements() as statements:
        await anext(events)  # stored, published, shown and acknowledged
    reads = [s for s in statements.seen if s.lstrip().upper().startswith("SELECT")
             and "FROM messages" in s]
    # Never read back after the insert (a repeated client id is caught by the unique key).
    assert reads == []
    assert [m["body"] for m in thread(state)] == ["Since Monday", "Still dizzy"]
    assert thread(state)[-1]["seq"] == "2" and "messages" not in state.dirty_vars


async def test_two_tabs_of_one_provider_share_one_list_refresh_per_burst(session):
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Dizzy", body="Since Monday")
    session.commit()
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    tabs = []
    for _ in range(2):
        tab = make_state(DashboardState, token=token, path="/dashboard")
        await call(tab, "load")
        tabs.append(tab)
    result = _send(session, people["maria"], conversation.id, "New news")
    event = _message_event(result, people["maria"])
    await live_actor(tabs[0])  # both tabs' session check is cached (same session): count figures only
    counts = []
    for tab in tabs:
        with Statements() as statements:
            await tab._after_live_events([event])
        counts.append(len(statements.seen))
        assert tab.stat_messages == 2 and tab.conversations[0]["preview"].endswith("New news")
    assert counts[1] < counts[0]  # the second tab reused the first tab's figures

    # A later event is never answered with figures computed before it.
    later = _send(session, people["maria"], conversation.id, "Even newer")
    await tabs[1]._after_live_events([_message_event(later, people["maria"])])
    assert tabs[1].stat_messages == 3


async def test_a_message_burst_rebuilds_the_header_only_when_it_moved(session, monkeypatch):
    """Each follow-up used to re-read the thread header; a message changes it only when a
    provider's reply reopens a completed conversation or makes them its provider."""
    people, conversation, tab = await _maria_reading_her_thread(session)
    await live_actor(tab)
    header_reads = []
    real_get_row = conversation_list.get_row
    monkeypatch.setattr(conversation_list, "get_row", lambda *a, **k: header_reads.append(1)
                        or real_get_row(*a, **k))

    first = _send(session, people["lee"], conversation.id, "Drink water")  # Dr. Lee takes it
    await deliver(tab, _message_event(first, people["lee"]))
    assert len(header_reads) == 1 and tab.header["provider"] == "Dr. Lee"
    again = _send(session, people["lee"], conversation.id, "And rest")
    await deliver(tab, _message_event(again, people["lee"]))
    assert len(header_reads) == 1  # nothing in the header moved
    assert [m["body"] for m in thread(tab)][-1] == "And rest"

    conv.set_status(session, actor=people["lee"], conversation_id=conversation.id,
                    status="completed")
    session.commit()
    await deliver(tab, realtime.LiveEvent(kind="conversation", conversation_id=conversation.id,
                                          patient_id=first.patient_id,
                                          actor_user_id=people["lee"].user_id))
    assert len(header_reads) == 2 and tab.header["status"] == "Completed" and tab.read_only
    reopened = _send(session, people["lee"], conversation.id, "Reopening: your labs are in")
    await deliver(tab, _message_event(reopened, people["lee"]))
    assert len(header_reads) == 3 and tab.header["status"] == "Active" and not tab.read_only


async def test_a_follow_up_resends_the_list_and_counters_only_when_they_moved(session):
    """Every follow-up used to reassign the 30 list rows and the counters, and Reflex sends an
    assigned var even when it is equal: a burst's refreshes resent the same rows each time."""
    people, _conversation, tab = await _lee_reading_marias_thread(session)
    other, _ = conv.create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Refill", body="Metformin")
    session.commit()
    news = _send(session, people["maria"], other.id, "Any news?")
    await tab._after_live_events([_message_event(news, people["maria"])])
    assert {"conversations", "stat_messages", "stat_unread"} <= tab.dirty_vars
    assert tab.conversations[0]["preview"].endswith("Any news?")

    tab.dirty_vars.clear()
    unchanged = realtime.LiveEvent(kind="conversation", conversation_id=other.id,
                                   patient_id=news.patient_id,
                                   actor_user_id=people["maria"].user_id)
    await tab._after_live_events([unchanged])
    assert not tab.dirty_vars & {"conversations", "total_rows", "list_loaded", "stat_total",
                                 "stat_unread", "stat_patients", "stat_messages", "nav_unread"}
    assert tab.conversations[0]["preview"].endswith("Any news?") and tab.stat_messages == 3
