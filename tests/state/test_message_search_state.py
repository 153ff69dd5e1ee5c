"""Issue 17 item 9: the search page's handlers and opening a thread at a found message."""

from __future__ import annotations

from care_messaging.pages.dashboard import DashboardState
from care_messaging.pages.message_search import MessageSearchState
from care_messaging.pages.portal import PortalState
from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, make_state, redirect_path, sign_in_token, thread


def _setup(session, extra: int = 0):
    people = clinic(session)
    maria, _ = create_conversation(
        session, reason="Test follow-up", actor=people["lee"], patient_id=people["maria_patient"].id,
        topic="Blood sugar", body="Please lower the Metformin dose to 500 mg.")
    session.commit()
    for n in range(extra):
        send_message(session, actor=people["maria"], conversation_id=maria.id,
                     body=f"Reading {n}", client_msg_id=f"r{n}")
        session.commit()
    james, _ = create_conversation(
        session, reason="Test follow-up", actor=people["james"], patient_id=None, topic="Private",
        body="My metformin dose question.")
    session.commit()
    return people, maria.id, james.id


async def test_provider_results_link_to_the_message_in_the_dashboard(session):
    people, maria, _james = _setup(session)
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(MessageSearchState, token=token, path="/search", query="q=metformin")
    assert redirect_path(await call(state, "load")) is None
    assert state.searched and [r["href"] for r in state.results] == [
        f"/dashboard?c={maria}&m=1"]
    result = state.results[0]
    assert (result["topic"], result["patient"], result["sender"]) == (
        "Blood sugar", "Maria Garcia", "You")
    assert result["when"].endswith("Z") and "Metformin" in result["snippet"]
    await call(state, "search", {"q": "nothing-like-this"})
    assert state.searched and state.results == []


async def test_patient_results_open_in_the_portal_and_only_their_own(session):
    people, maria, _james = _setup(session)
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    state = make_state(MessageSearchState, token=token, path="/search")
    await call(state, "load")
    assert not state.searched
    await call(state, "search", {"q": "metformin dose"})
    assert [r["href"] for r in state.results] == [f"/portal?c={maria}&m=1"]
    assert state.results[0]["patient"] == ""  # a patient is not told their own name


async def test_signed_out_cannot_search(session):
    _people, _maria, _james = _setup(session)
    state = make_state(MessageSearchState, path="/search", query="q=metformin")
    assert redirect_path(await call(state, "load")).startswith("/login")
    assert state.results == []


async def test_a_found_message_opens_with_the_pages_up_to_it(session):
    people, maria, _james = _setup(session, extra=70)  # 71 messages: two pages and more
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={maria}&m=1")
    await call(state, "load")
    assert state.open_id == str(maria)
    seqs = [int(m["seq"]) for m in thread(state)]
    assert seqs[0] == 1 and seqs[-1] == 71 and not state.has_older
    assert state.highlight_seq == "1"
    # Opened in place afterwards, another thread highlights nothing.
    await call(state, "open_conversation", 987654)
    assert state.highlight_seq == ""


async def test_a_forged_conversation_with_a_message_opens_nothing(session):
    people, _maria, james = _setup(session)
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    state = make_state(PortalState, token=token, path="/portal", query=f"c={james}&m=1")
    await call(state, "load")
    assert state.thread_error == "Conversation not found."
    assert state.open_id == "" and thread(state) == [] and state.highlight_seq == ""
