"""Dashboard handlers with forged ids: other teams' conversations look like nonexistent ones."""

from __future__ import annotations

import re

from sqlmodel import func, select

from care_messaging import realtime
from care_messaging.models import Conversation, Message
from care_messaging.pages.dashboard import DashboardState
from care_messaging.pages.patient_profile import PatientProfileState
from care_messaging.services import conversations as conv
from care_messaging.services import message_sending as sending
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, deliver, make_state, redirect_path, sign_in_token, thread


def _setup(session):
    p = clinic(session)
    mine, _ = conv.create_conversation(session, actor=p["maria"], patient_id=p["maria_patient"].id,
                                       reason="Test", topic="Refill please", body="Out of pills")
    session.commit()
    theirs, _ = conv.create_conversation(session, actor=p["james"],
                                         patient_id=p["james_patient"].id,
                                         reason="Test", topic="Secret rash", body="Private")
    session.commit()
    token = sign_in_token(session, p["lee"].email, PASSWORD)
    return p, mine.id, theirs.id, token


def _count(session, model) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(model)).one()


async def test_open_own_conversation_marks_read_and_counts_follow(session):
    _p, mine, _, token = _setup(session)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={mine}")
    assert state.list_loaded is False  # the served rows (or "Loading") stay until the list
    assert redirect_path(await call(state, "load")) is None
    assert state.list_loaded is True
    assert state.open_id == str(mine) and state.thread_error == ""
    assert [m["body"] for m in thread(state)] == ["Out of pills"]
    assert thread(state)[0]["sender"] == "Maria Garcia"
    assert state.header["topic"] == "Refill please"
    assert state.nav_unread == 0 and state.stat_unread == 0 and state.stat_total == 1
    assert state.conversations[0]["unread"] == "0"


async def test_other_teams_conversation_is_not_found_and_loads_nothing(session):
    _p, _, theirs, token = _setup(session)
    for query in (f"c={theirs}", "c=999999", "c=abc", "c=-1"):
        state = make_state(DashboardState, token=token, path="/dashboard", query=query)
        await call(state, "load")
        assert state.thread_error == "Conversation not found.", query
        assert state.open_id == "" and thread(state) == [] and state.header == {}
        assert all(r["topic"] != "Secret rash" for r in state.conversations)
        assert state.stat_total == 1


async def test_forged_open_id_cannot_send_or_change_status(session):
    _p, _, theirs, token = _setup(session)
    state = make_state(DashboardState, token=token, path="/dashboard")
    await call(state, "load")
    before = _count(session, Message)
    state.open_id = str(theirs)  # as if the browser forged it
    await call(state, "send_reply", {"body": "sneaky", "client_msg_id": "s-1"})
    assert state.send_error == "Conversation not found."
    # The conversation named with the message is re-checked the same way.
    state.open_id = ""
    state.send_error = ""
    await call(state, "send_reply", {"body": "sneaky", "client_msg_id": "s-2",
                                     "conversation_id": str(theirs)})
    assert state.send_error == "Conversation not found."
    assert '"c":"s-2","k":"refused"' in state.outbox_acks
    await call(state, "set_status", "completed")
    assert state.send_error == "Conversation not found."
    assert _count(session, Message) == before
    session.expire_all()
    assert session.get(Conversation, theirs).status == "active"
    await call(state, "load_older")
    assert thread(state) == []


async def test_reply_appears_as_you(session):
    _p, mine, _, token = _setup(session)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={mine}")
    await call(state, "load")
    await call(state, "send_reply", {"body": "Sent to pharmacy", "client_msg_id": "r-1"})
    assert state.send_error == ""
    assert thread(state)[-1]["sender"] == "You" and thread(state)[-1]["body"] == "Sent to pharmacy"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", thread(state)[-1]["when"])
    assert state.stat_messages == 2
    await call(state, "set_status", "needs_attention")
    session.expire_all()
    assert session.get(Conversation, mine).status == "needs_attention"
    assert state.thread_status == "needs_attention"


async def test_create_validates_and_rejects_patients_outside_team(session):
    p, _, _, token = _setup(session)
    state = make_state(DashboardState, token=token, path="/dashboard")
    await call(state, "load")
    await call(state, "set_new_open", True)
    assert [o["label"] for o in state.patient_options] == [
        "Maria Garcia · ID P-100200 · Date of birth not recorded"]
    assert state.new_patient_id == ""  # nobody chosen until the provider picks
    before = _count(session, Conversation)
    base = {"patient_id": str(p["maria_patient"].id), "topic": "Hi", "body": "Hello",
            "category": "check_in", "priority": "routine", "reason": "Check in"}
    await call(state, "create", {**base, "patient_id": ""})
    assert state.new_error == "Choose a patient."
    await call(state, "create", {**base, "topic": "  "})
    assert state.new_error == "Enter a topic."
    await call(state, "create", {**base, "reason": ""})
    assert state.new_error == "Enter a reason: a few words on why you are writing."
    await call(state, "create", {**base, "body": ""})
    assert state.new_error == "Write the first message."
    await call(state, "create", {**base, "patient_id": str(p["james_patient"].id)})
    assert state.new_error == "Patient not found."
    assert _count(session, Conversation) == before and state.new_open
    events = await call(state, "create", base)
    assert _count(session, Conversation) == before + 1
    assert redirect_path(events).startswith("/dashboard?c=")


async def test_patient_picker_chooses_only_visible_patients(session):
    p, _, _, token = _setup(session)
    state = make_state(DashboardState, token=token, path="/dashboard")
    await call(state, "load")
    await call(state, "set_new_open", True)
    await call(state, "search_patients", "smith")  # James: another team's patient
    assert state.patient_options == []
    assert state.patient_matches_label == "No patient on your care teams matches."
    # A forged choice of a patient outside the team is refused like a nonexistent one.
    for forged in (str(p["james_patient"].id), "999999", "x", "-1"):
        await call(state, "choose_patient", forged)
        assert state.new_error == "Patient not found." and state.new_patient_id == ""
    await call(state, "search_patients", "garcia")
    await call(state, "choose_patient", state.patient_options[0]["id"])
    assert state.new_error == ""
    assert (state.new_patient_id, state.new_patient_name) == (
        str(p["maria_patient"].id), "Maria Garcia")
    assert state.new_patient_detail == "ID P-100200 · Date of birth not recorded"
    await call(state, "clear_patient")
    assert state.new_patient_id == "" and len(state.patient_options) == 1
    # Closing the dialog forgets the choice: the next New Message starts with nobody.
    await call(state, "choose_patient", str(p["maria_patient"].id))
    await call(state, "set_new_open", False)
    await call(state, "set_new_open", True)
    assert state.new_patient_id == ""


async def test_new_from_a_patient_profile_chooses_that_patient(session):
    p, _, _, token = _setup(session)
    state = make_state(DashboardState, token=token, path="/dashboard",
                       query=f"new={p['maria_patient'].id}")
    await call(state, "load")
    assert state.new_open and state.new_patient_id == str(p["maria_patient"].id)
    other = make_state(DashboardState, token=token, path="/dashboard",
                       query=f"new={p['james_patient'].id}")
    await call(other, "load")
    assert not other.new_open and other.new_patient_id == ""
    assert other.thread_error == "Patient not found."


async def test_search_and_filters_in_state(session):
    _p, _, _, token = _setup(session)
    state = make_state(DashboardState, token=token, path="/dashboard")
    await call(state, "load")
    await call(state, "set_search", "secret")
    assert state.total_rows == 0 and state.conversations == []
    await call(state, "set_search", "P-100200")
    assert state.total_rows == 1
    await call(state, "set_filter", "read")
    assert state.total_rows == 0
    await call(state, "set_filter", "bogus")
    assert state.filter_by == "all" and state.total_rows == 1


async def test_profile_of_other_teams_patient_is_not_found(session):
    p, _, _, token = _setup(session)
    state = make_state(PatientProfileState, token=token, path="/patients",
                       query=f"id={p['james_patient'].id}")
    await call(state, "load")
    assert state.error == "Patient not found." and state.patient == {}
    assert state.conversations == []
    own = make_state(PatientProfileState, token=token, path="/patients",
                     query=f"id={p['maria_patient'].id}")
    await call(own, "load")
    assert own.patient["mrn"] == "P-100200" and own.total == 1


async def test_handlers_without_session_redirect(session):
    _setup(session)
    state = make_state(DashboardState, path="/dashboard")
    for handler, args in [("set_search", ("x",)), ("send_reply", ({"body": "x"},)),
                          ("create", ({},)), ("set_status", ("completed",))]:
        assert redirect_path(await call(state, handler, *args)).startswith("/login")


async def _thread_of_41(session):
    """Dr. Lee's dashboard open on a conversation of 41 messages (its newest 30 shown)."""
    p, mine, _, token = _setup(session)
    for i in range(40):
        sending.send_message(session, actor=p["maria"], conversation_id=mine, body=f"note {i}",
                             client_msg_id=f"older-{i}")
        session.commit()
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={mine}")
    await call(state, "load")
    return state


async def test_load_older_pages_back_in_time_order(session):
    state = await _thread_of_41(session)
    assert len(thread(state)) == 30 and state.has_older
    assert thread(state)[-1]["body"] == "note 39"
    await call(state, "load_older")
    seqs = [int(m["seq"]) for m in thread(state)]
    assert seqs == list(range(1, 42)) and not state.has_older
    assert thread(state)[0]["body"] == "Out of pills"


async def test_load_older_shows_progress_and_ignores_a_second_press_meanwhile(session):
    state = await _thread_of_41(session)
    steps = type(state).load_older.fn(state)
    await anext(steps)  # the first update: the page is on its way
    assert state.loading_older and len(thread(state)) == 30
    # A second press (or the scroll watcher firing again) while loading adds nothing.
    assert await call(state, "load_older") == [] and len(thread(state)) == 30
    assert [step async for step in steps] == []
    assert not state.loading_older and len(thread(state)) == 41 and not state.has_older


async def test_live_event_appends_to_open_thread_and_marks_read(session):
    p, mine, _, token = _setup(session)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={mine}")
    await call(state, "load")
    result = sending.send_message(session, actor=p["maria"], conversation_id=mine,
                                  body="Any update?", client_msg_id="live-1")
    session.commit()
    event = realtime.LiveEvent(
        kind="message", conversation_id=mine, patient_id=p["maria_patient"].id,
        actor_user_id=p["maria"].user_id, seq=result.message.seq)
    # Phase one (the delivery path) shows the message and leaves the rest to the follow-up.
    assert await state._apply_live_event(event) is True
    assert thread(state)[-1]["body"] == "Any update?"
    assert thread(state)[-1]["sender"] == "Maria Garcia"
    assert state.stat_messages == 1
    await state._after_live_events([event])
    assert state.nav_unread == 0 and state.stat_messages == 2
    assert [m["body"] for m in thread(state)].count("Any update?") == 1
    # A new conversation elsewhere shows up in the list and counts without opening it.
    other, _ = conv.create_conversation(session, actor=p["maria"],
                                        patient_id=p["maria_patient"].id, reason="Test", topic="New one",
                                        body="Hello again")
    session.commit()
    await deliver(state, realtime.LiveEvent(kind="conversation", conversation_id=other.id))
    assert state.conversations[0]["topic"] == "New one" and state.nav_unread == 1
    assert thread(state)[-1]["body"] == "Any update?"


async def test_open_conversation_in_place_rechecks_access(session):
    _p, mine, theirs, token = _setup(session)
    state = make_state(DashboardState, token=token, path="/dashboard")
    await call(state, "load")
    await call(state, "open_conversation", mine)
    assert state.open_id == str(mine) and thread(state)
    await call(state, "open_conversation", theirs)
    assert state.thread_error == "Conversation not found." and state.open_id == ""
    assert thread(state) == []


async def test_chart_bars_scale_to_the_busiest_day_and_name_their_counts(session):
    _p, _mine, _theirs, token = _setup(session)
    state = make_state(DashboardState, token=token, path="/dashboard")
    await call(state, "load")
    bars = state.chart_data
    assert len(bars) == 30
    # Only today has a message (the one in Dr. Lee's team: the other team's is not counted).
    assert [b["pct"] for b in bars[:-1]] == [0] * 29 and bars[-1]["pct"] == 100
    assert bars[-1]["label"].endswith(": 1 message") and bars[0]["label"].endswith(": 0 messages")


async def test_tabs_showing_the_same_rows_share_them_and_a_change_is_their_own(session):
    """Every open dashboard tab holds a page of rows (memory per connected tab): equal rows
    are one shared object, and a row that moves is a new one in the tab that refreshed."""
    p, mine, _, token = _setup(session)
    tabs = [make_state(DashboardState, token=token, path="/dashboard") for _ in range(2)]
    for tab in tabs:
        await call(tab, "load")
    first, second = (tab.get_value("conversations") for tab in tabs)
    assert first == second and all(a is b for a, b in zip(first, second, strict=True))
    assert first is second  # the page's list too, not only its rows
    bars = [tab.get_value("chart_data") for tab in tabs]
    assert bars[0] and all(a is b for a, b in zip(*bars, strict=True))
    assert bars[0] is bars[1]

    sending.send_message(session, actor=p["maria"], conversation_id=mine, body="Still out",
                         client_msg_id="still-out")
    session.commit()
    await call(tabs[0], "load")
    moved = tabs[0].get_value("conversations")[0]
    assert moved["preview"].endswith("Still out") and moved is not second[0]
    assert tabs[1].get_value("conversations") is second
    assert tabs[1].get_value("conversations")[0]["preview"].endswith("Out of pills")
