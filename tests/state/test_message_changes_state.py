"""Retract, correct, history and drafts through the page handlers, with forged ids."""

from __future__ import annotations

from sqlmodel import select

from care_messaging import realtime
from care_messaging.models import AuditEvent, MessageDraft, MessageRevision
from care_messaging.pages.dashboard import DashboardState
from care_messaging.pages.portal import PortalState
from care_messaging.services import conversations as conv
from care_messaging.services import message_changes
from care_messaging.services.message_revisions import RETRACTED_TEXT
from care_messaging.services.message_sending import send_message
from care_messaging.state.tab_owner import TabOwnerMiddleware
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, deliver, make_state, sign_in_token, thread


async def _no_registry(**_) -> None:
    return None


def _setup(session, monkeypatch):
    monkeypatch.setattr(realtime, "register", _no_registry)
    people = clinic(session)
    conversation, _ = conv.create_conversation(
        session, actor=people["lee"], patient_id=people["maria_patient"].id, reason="Test",
        topic="Lab results", body="Your results are in.")
    reply = send_message(session, actor=people["maria"], conversation_id=conversation.id,
                         body="Thanks, what about iron?", client_msg_id="r-1").message
    session.commit()  # before the handlers' own sessions read it (services never commit)
    return people, conversation.id, reply


async def _portal(session, people, cid):
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    state = make_state(PortalState, token=token, path="/portal", query=f"c={cid}")
    await call(state, "load")
    return state


async def _dashboard(session, people, cid, who="lee"):
    token = sign_in_token(session, people[who].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={cid}")
    await call(state, "load")
    return state


async def test_own_recent_messages_offer_changes_and_a_retract_replaces_the_row(
        session, monkeypatch):
    people, cid, reply = _setup(session, monkeypatch)
    state = await _portal(session, people, cid)
    rows = {r["id"]: r for r in thread(state)}
    assert rows[str(reply.id)]["changeable"] == "1"
    assert [r["changeable"] for r in thread(state) if r["sender"] == "Dr. Lee"] == [""]
    await call(state, "retract", str(reply.id))
    row = {r["id"]: r for r in thread(state)}[str(reply.id)]
    assert row["body"] == RETRACTED_TEXT and row["state"] == "retracted"
    assert row["changeable"] == "" and row["status"]  # the delivery status stays
    assert state.conversations[0]["preview"] == RETRACTED_TEXT
    assert state.change_error == ""


async def test_correct_through_the_dialog_and_the_provider_sees_it_live(session, monkeypatch):
    people, cid, reply = _setup(session, monkeypatch)
    patient = await _portal(session, people, cid)
    provider = await _dashboard(session, people, cid)
    await call(patient, "start_correct", str(reply.id))
    assert patient.change_id == str(reply.id) and patient.change_text == "Thanks, what about iron?"
    seen: list = []
    from care_messaging.services import events
    events.on_commit(seen.extend)
    try:
        await call(patient, "correct", {"message_id": str(reply.id), "body": "What about B12?"})
    finally:
        events.remove(seen.extend)
    assert patient.change_id == ""
    assert {r["id"]: r for r in thread(patient)}[str(reply.id)]["state"] == "edited"
    # What realtime moves into the provider's open tab.
    [change] = [e for e in seen if e.kind == "message_changed"]
    await deliver(provider, realtime.LiveEvent(
        kind="message_changed", conversation_id=cid, patient_id=change.patient_id,
        actor_user_id=change.actor_user_id, seq=change.seq, message=change.message))
    row = {r["id"]: r for r in thread(provider)}[str(reply.id)]
    assert row["body"] == "What about B12?" and row["state"] == "edited"
    assert row["history"] == "1" and row["changeable"] == ""
    assert provider.conversations[0]["preview"] == "What about B12?"
    await call(provider, "open_history", str(reply.id))
    assert provider.history_open
    assert [(h["kind"], h["text"]) for h in provider.history_rows] == [
        ("Original", "Thanks, what about iron?"), ("Corrected", "What about B12?")]
    # The patient has no history view (providers only): "not found", nothing shown.
    await call(patient, "open_history", str(reply.id))
    assert patient.history_open is False and patient.change_error == "Message not found."


async def test_forged_ids_from_another_user_are_not_found_and_change_nothing(
        session, monkeypatch):
    people, cid, reply = _setup(session, monkeypatch)
    provider = await _dashboard(session, people, cid)
    # Dr. Lee forges the patient's message id, then junk.
    for forged in (str(reply.id), "999999", "x", "-3"):
        await call(provider, "retract", forged)
        assert provider.change_error == "Message not found."
        await call(provider, "correct", {"message_id": forged, "body": "hijack"})
        assert provider.change_error == "Message not found."
    # An outsider's tab opening the history of a message on a team they are not on.
    outsider = await _dashboard(session, people, cid, who="outsider")
    await call(outsider, "open_history", str(reply.id))
    assert outsider.history_rows == [] and outsider.change_error == "Message not found."
    assert session.exec(select(MessageRevision)).all() == []
    denied = session.exec(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
    # (besides the outsider's page load asking for the conversation: "access")
    assert sorted(r.action for r in denied if r.action != "access") == (
        ["message_correct"] * 4 + ["message_history"] + ["message_retract"] * 4)
    # start_correct on a row the tab does not show as its own opens nothing.
    await call(provider, "start_correct", str(reply.id))
    assert provider.change_id == ""


async def test_after_the_window_the_handler_says_why(session, monkeypatch):
    people, cid, reply = _setup(session, monkeypatch)
    state = await _portal(session, people, cid)
    monkeypatch.setattr(message_changes, "window", lambda: message_changes.timedelta(0))
    await call(state, "retract", str(reply.id))
    assert "within 15 minutes" in state.change_error
    assert {r["id"]: r for r in thread(state)}[str(reply.id)]["body"] == \
        "Thanks, what about iron?"


async def test_a_draft_saved_in_one_tab_is_restored_in_another_and_listed(
        session, monkeypatch):
    people, cid, _ = _setup(session, monkeypatch)
    first = await _dashboard(session, people, cid)
    await call(first, "save_draft", {"conversation_id": str(cid), "body": "Iron is fine, but"})
    assert first.conversations[0]["draft"] == "1"
    second = await _dashboard(session, people, cid)
    assert second.draft == "Iron is fine, but" and second.draft_for == str(cid)
    assert second.conversations[0]["draft"] == "1"
    # The patient's list knows nothing of the provider's draft.
    patient = await _portal(session, people, cid)
    assert patient.conversations[0]["draft"] == "" and patient.draft == ""
    # A send from the second tab clears it; the list no longer says Draft.
    await call(second, "send_reply", {"body": "Iron is fine.", "client_msg_id": "d-1",
                                      "conversation_id": str(cid)})
    assert session.exec(select(MessageDraft)).all() == []
    third = await _dashboard(session, people, cid)
    assert third.draft == "" and third.conversations[0]["draft"] == ""


async def test_a_draft_for_a_forged_conversation_is_refused_quietly(session, monkeypatch):
    people, cid, _ = _setup(session, monkeypatch)
    theirs, _ = conv.create_conversation(session, actor=people["james"], patient_id=None,
                                         reason="Test", topic="Private", body="Private")
    session.commit()
    state = await _portal(session, people, cid)
    for forged in ({"conversation_id": str(theirs.id), "body": "x"},
                   {"conversation_id": "nope", "body": "x"}, "not a dict"):
        await call(state, "save_draft", forged)
    assert session.exec(select(MessageDraft)).all() == []


async def test_sign_out_leaves_no_draft_text_in_the_tab(session, monkeypatch):
    people, cid, _ = _setup(session, monkeypatch)
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={cid}")
    root = state._get_root_state()
    await TabOwnerMiddleware().preprocess(None, root, None)
    await call(state, "save_draft", {"conversation_id": str(cid), "body": "Unsent words"})
    await call(state, "load")
    assert state.draft == "Unsent words"
    # The same tab, signed out (no cookie): the whole tree is emptied before anything runs.
    root.router_data = {**root.router_data, "headers": {"cookie": ""}}
    root.router = type(root.router).from_router_data(root.router_data)
    await TabOwnerMiddleware().preprocess(None, root, None)
    assert state.draft == "" and state.draft_for == "" and state.change_text == ""
