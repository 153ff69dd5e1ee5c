"""Dashboard handlers for who is answering and staff-only notes: forged ids, another team's
provider, a patient calling them; live updates between two providers; the patient's state."""

from __future__ import annotations

from sqlmodel import func, select

from care_messaging import realtime
from care_messaging.models import Conversation, InternalNote
from care_messaging.pages.dashboard import DashboardState
from care_messaging.pages.portal import PortalState
from care_messaging.services import assignment, internal_notes
from care_messaging.services import conversations as conv
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, deliver, make_state, redirect_path, sign_in_token

NOTE = "Staff only: ZEBRA-7781 check the interaction"


def _setup(session):
    p = clinic(session)
    mine, _ = conv.create_conversation(session, actor=p["maria"], patient_id=None,
                                       reason="Test", topic="Refill please", body="Out of pills")
    theirs, _ = conv.create_conversation(session, actor=p["james"], patient_id=None,
                                         reason="Test", topic="Secret rash", body="Private")
    session.commit()  # before the handlers' own sessions read it (services never commit)
    return p, mine.id, theirs.id


async def _dashboard(session, email: str, query: str = ""):
    state = make_state(DashboardState, token=sign_in_token(session, email, PASSWORD),
                       path="/dashboard", query=query)
    assert redirect_path(await call(state, "load")) is None
    return state


def _assignee(session, conversation_id: int) -> int | None:
    session.expire_all()
    return session.get(Conversation, conversation_id).assignee_user_id


async def test_take_assign_release_from_the_thread_header(session):
    p, mine, _ = _setup(session)
    lee = await _dashboard(session, p["lee"].email, f"c={mine}")
    assert lee.handling_label.startswith("Unassigned")
    assert [o["name"] for o in lee.team_options] == ["Me", "Dr. Patel"]
    await call(lee, "take_conversation")
    assert lee.assign_error == "" and lee.handling_label == "You are handling this"
    assert lee.assigned_to_me and _assignee(session, mine) == p["lee"].user_id
    assert lee.conversations[0]["assignee"] == "Dr. Lee"
    await call(lee, "assign_to", str(p["patel"].user_id))
    assert lee.handling_label == "Dr. Patel is handling this" and not lee.assigned_to_me
    await call(lee, "set_filter", "assigned_to_me")
    assert lee.conversations == []
    await call(lee, "release_conversation")
    assert _assignee(session, mine) is None and lee.handling_label.startswith("Unassigned")
    await call(lee, "set_filter", "unassigned")
    assert [r["topic"] for r in lee.conversations] == ["Refill please"]


async def test_forged_assignees_and_conversations_are_refused(session):
    p, mine, theirs, = _setup(session)
    lee = await _dashboard(session, p["lee"].email, f"c={mine}")
    for forged in (str(p["outsider"].user_id), str(p["maria"].user_id), "999999", "x", ""):
        await call(lee, "assign_to", forged)
        assert lee.assign_error == assignment.NOT_ON_TEAM, forged
    assert _assignee(session, mine) is None
    lee.open_id = str(theirs)  # as if the browser forged it
    await call(lee, "take_conversation")
    assert lee.assign_error == "Conversation not found."
    await call(lee, "add_note", {"note": "sneaky"})
    assert lee.note_error == "Conversation not found."
    assert _assignee(session, theirs) is None
    assert session.exec(select(func.count()).select_from(InternalNote)).one() == 0


async def test_another_teams_provider_cannot_take_or_note(session):
    p, mine, _ = _setup(session)
    outsider = await _dashboard(session, p["outsider"].email, f"c={mine}")
    assert outsider.thread_error == "Conversation not found." and outsider.notes == []
    outsider.open_id = str(mine)
    await call(outsider, "take_conversation")
    await call(outsider, "add_note", {"note": NOTE})
    assert outsider.assign_error == outsider.note_error == "Conversation not found."
    assert _assignee(session, mine) is None
    assert session.exec(select(func.count()).select_from(InternalNote)).one() == 0


async def test_a_patient_calling_the_dashboard_handlers_is_sent_away(session):
    p, mine, _ = _setup(session)
    token = sign_in_token(session, p["maria"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard")
    state.open_id = str(mine)
    for handler, args in (("take_conversation", ()), ("assign_to", (str(p["lee"].user_id),)),
                          ("release_conversation", ()), ("add_note", ({"note": NOTE},))):
        assert redirect_path(await call(state, handler, *args)) == "/portal", handler
    assert _assignee(session, mine) is None
    assert session.exec(select(func.count()).select_from(InternalNote)).one() == 0
    # The portal's own state has no notes and no assignment handlers at all.
    assert "notes" not in PortalState.get_fields() and "add_note" not in PortalState.event_handlers
    assert "take_conversation" not in PortalState.event_handlers


async def test_colleague_sees_take_and_note_live_the_patient_sees_only_the_handler(session):
    p, mine, _ = _setup(session)
    lee = await _dashboard(session, p["lee"].email, f"c={mine}")
    patel = await _dashboard(session, p["patel"].email, f"c={mine}")
    portal = make_state(PortalState, token=sign_in_token(session, p["maria"].email, PASSWORD),
                        path="/portal", query=f"c={mine}")
    await call(portal, "load")
    await call(lee, "take_conversation")
    event = realtime.LiveEvent(kind="conversation", conversation_id=mine,
                               patient_id=p["maria_patient"].id, actor_user_id=p["lee"].user_id)
    await deliver(patel, event)
    assert patel.handling_label == "Dr. Lee is handling this"
    assert patel.conversations[0]["assignee"] == "Dr. Lee"
    await deliver(portal, event)
    assert portal.header["handler"] == "Dr. Lee is handling this"
    assert portal.conversations[0]["provider"] == "Dr. Lee"
    await call(lee, "add_note", {"note": NOTE})
    assert lee.note_error == "" and [n["body"] for n in lee.notes] == [NOTE]
    assert lee.notes[0]["author"] == "You"
    note_event = realtime.LiveEvent(kind="note", conversation_id=mine,
                                    patient_id=p["maria_patient"].id,
                                    actor_user_id=p["lee"].user_id)
    await deliver(patel, note_event)
    assert [(n["author"], n["body"]) for n in patel.notes] == [("Dr. Lee", NOTE)]
    # Even a misrouted note event leaves nothing of the note in the patient's state.
    await deliver(portal, note_event)
    assert NOTE not in repr(portal.dict())
    assert internal_notes.list_notes(session, actor=p["patel"], conversation_id=mine)
