"""Portal upload handler: real UploadFile objects, guarded, bounded reads, chips, sending."""

from __future__ import annotations

import io
from pathlib import Path

import reflex as rx
from sqlmodel import func, select

from care_messaging.models import Attachment
from care_messaging.pages.portal import PortalState
from care_messaging.services import conversations as conv
from care_messaging.services import message_views
from care_messaging.settings import get_settings
from tests.factories import PASSWORD, clinic
from tests.fixtures import files
from tests.state.helpers import call, make_state, redirect_path, sign_in_token


class CountingFile(io.BytesIO):
    """Remembers the largest single read, to prove the handler never slurps a huge upload."""

    largest_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        CountingFile.largest_read = max(CountingFile.largest_read, len(chunk))
        return chunk


def upload(name: str, data: bytes, cls: type[io.BytesIO] = io.BytesIO) -> rx.UploadFile:
    return rx.UploadFile(file=cls(data), path=Path(name), size=len(data))


def _rows(session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(Attachment)).one()


async def _open(session):
    people = clinic(session)
    mine, _ = conv.create_conversation(session, actor=people["lee"],
                                       patient_id=people["maria_patient"].id,
                                       reason="Test", topic="Your rash", body="Send a photo please.")
    session.commit()
    theirs, _ = conv.create_conversation(session, actor=people["james"], patient_id=None,
                                         reason="Test", topic="James private", body="Private")
    session.commit()
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    state = make_state(PortalState, token=token, path="/portal", query=f"c={mine.id}")
    await call(state, "load")
    assert state.open_id == str(mine.id)
    return people, mine.id, theirs.id, state


async def test_upload_shows_chips_and_send_links_them_to_the_message(session):
    _people, cid, _theirs, state = await _open(session)
    await call(state, "handle_upload", [upload("rash.png", files.png()),
                                        upload("labs.pdf", files.pdf())])
    assert state.upload_error == ""
    assert [f["name"] for f in state.pending_files] == ["rash.png", "labs.pdf"]
    await call(state, "send_reply", {"body": "Photo and labs", "client_msg_id": "up-1"})
    assert state.pending_files == [] and state.send_error == ""
    last = message_views.list_messages(session, conversation_id=cid)[-1]
    session.commit()
    assert last.body == "Photo and labs"
    assert sorted(a.name for a in last.attachments) == ["labs.pdf", "rash.png"]


async def test_refused_upload_shows_the_reason_and_stores_nothing(session):
    _people, _cid, _theirs, state = await _open(session)
    await call(state, "handle_upload", [upload("report.pdf", files.HTML_AS_PDF),
                                        upload("setup.exe", files.WINDOWS_EXE)])
    assert "“report.pdf” can't be attached" in state.upload_error
    assert "“setup.exe” can't be attached" in state.upload_error
    assert state.pending_files == [] and _rows(session) == 0


async def test_oversized_upload_is_read_only_up_to_the_limit(session, monkeypatch):
    monkeypatch.setenv("CARE_MAX_ATTACHMENT_BYTES", "2048")
    get_settings.cache_clear()
    _people, _cid, _theirs, state = await _open(session)
    CountingFile.largest_read = 0
    big = files.pdf() + b"0" * 50_000
    await call(state, "handle_upload", [upload("big.pdf", big, CountingFile)])
    assert "too large" in state.upload_error
    assert CountingFile.largest_read == 2049
    assert _rows(session) == 0


async def test_forged_open_id_cannot_upload_into_another_patients_conversation(session):
    _people, _cid, theirs, state = await _open(session)
    state.open_id = str(theirs)
    await call(state, "handle_upload", [upload("rash.png", files.png())])
    assert state.upload_error == "Conversation not found."
    assert state.pending_files == [] and _rows(session) == 0


async def test_signed_out_upload_and_progress_only_redirect(session):
    await _open(session)
    state = make_state(PortalState, path="/portal")
    state.open_id = "1"
    events = await call(state, "handle_upload", [upload("rash.png", files.png())])
    assert redirect_path(events).startswith("/login")
    assert _rows(session) == 0
    events = await call(state, "set_upload_progress", {"progress": 0.5})
    assert redirect_path(events).startswith("/login") and state.upload_progress == 0
