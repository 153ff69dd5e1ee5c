"""Issue 17 item 10: providers attach files with the same checks as patients (shared upload
state, state/attachment_uploads.py), and a waiting file stays with its conversation."""

from __future__ import annotations

from sqlmodel import func, select

from care_messaging.models import Attachment
from care_messaging.pages.dashboard import DashboardState
from care_messaging.services import conversations as conv
from care_messaging.services import message_views
from tests.factories import PASSWORD, clinic
from tests.fixtures import files
from tests.state.helpers import call, make_state, redirect_path, sign_in_token
from tests.state.test_portal_uploads import upload


def _rows(session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(Attachment)).one()


async def _lee_in_thread(session):
    people = clinic(session)
    first, _ = conv.create_conversation(session, reason="Test follow-up", actor=people["maria"], patient_id=None,
                                        topic="My rash", body="It itches")
    session.commit()
    second, _ = conv.create_conversation(session, reason="Test follow-up", actor=people["maria"], patient_id=None,
                                         topic="Refill", body="Out of pills")
    session.commit()
    theirs, _ = conv.create_conversation(session, reason="Test follow-up", actor=people["james"], patient_id=None,
                                         topic="James private", body="Private")
    session.commit()
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard", query=f"c={first.id}")
    await call(state, "load")
    assert state.open_id == str(first.id)
    return people, first.id, second.id, theirs.id, state


async def test_provider_upload_shows_chips_and_send_links_them(session):
    _people, cid, _second, _theirs, state = await _lee_in_thread(session)
    await call(state, "handle_upload", [upload("instructions.pdf", files.pdf()),
                                        upload("wound.png", files.png())])
    assert state.upload_error == ""
    assert [f["name"] for f in state.open_pending_files] == ["instructions.pdf", "wound.png"]
    assert [f["is_image"] for f in state.open_pending_files] == ["", "1"]
    # A file alone is a message.
    await call(state, "send_reply", {"body": "", "client_msg_id": "prov-up-1"})
    assert state.send_error == "" and state.pending_files == []
    last = message_views.list_messages(session, conversation_id=cid)[-1]
    session.commit()
    assert last.sender_user_id == _people["lee"].user_id
    assert sorted(a.name for a in last.attachments) == ["instructions.pdf", "wound.png"]
    assert {a["name"] for a in state.thread_attachments} >= {"instructions.pdf", "wound.png"}


async def test_provider_upload_has_the_same_content_checks(session):
    *_, state = await _lee_in_thread(session)
    await call(state, "handle_upload", [upload("report.pdf", files.HTML_AS_PDF),
                                        upload("results.pdf", files.png())])
    assert "“report.pdf” can't be attached" in state.upload_error
    assert "does not match its contents" in state.upload_error
    assert state.pending_files == [] and _rows(session) == 0


async def test_a_waiting_file_stays_with_its_conversation(session):
    _people, first, second, _theirs, state = await _lee_in_thread(session)
    await call(state, "handle_upload", [upload("wound.png", files.png())])
    await call(state, "open_conversation", second)  # in place, as a click on a row does
    assert state.open_id == str(second) and state.open_pending_files == []
    await call(state, "send_reply", {"body": "Refill sent", "client_msg_id": "prov-up-2"})
    last = message_views.list_messages(session, conversation_id=second)[-1]
    session.commit()
    assert state.send_error == "" and last.body == "Refill sent" and not last.attachments
    await call(state, "open_conversation", first)
    assert [f["name"] for f in state.open_pending_files] == ["wound.png"]


async def test_provider_cannot_upload_into_another_teams_conversation(session):
    _people, _cid, _second, theirs, state = await _lee_in_thread(session)
    state.open_id = str(theirs)  # forged: the handler re-checks access
    await call(state, "handle_upload", [upload("wound.png", files.png())])
    assert state.upload_error == "Conversation not found."
    assert state.pending_files == [] and _rows(session) == 0


async def test_signed_out_provider_upload_only_redirects(session):
    await _lee_in_thread(session)
    state = make_state(DashboardState, path="/dashboard")
    state.open_id = "1"
    events = await call(state, "handle_upload", [upload("wound.png", files.png())])
    assert redirect_path(events).startswith("/login")
    assert _rows(session) == 0
