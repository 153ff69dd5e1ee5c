"""Attachments: content-checked, encrypted at rest, nothing left behind on rejection."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from care_messaging.models import Attachment, AuditEvent
from care_messaging.services import attachments
from care_messaging.services.conversations import create_conversation
from care_messaging.services.errors import NotFoundError, ValidationError
from care_messaging.services.message_sending import send_message
from care_messaging.services.message_views import list_messages
from care_messaging.settings import get_settings
from tests.factories import clinic
from tests.fixtures import files


@pytest.fixture
def setup(session):
    people = clinic(session)
    conversation, _ = create_conversation(session, actor=people["maria"], patient_id=None,
                                          reason="Test", topic="Rash photo", body="Here it is")
    session.commit()
    return people, conversation.id


def _stored_files() -> list:
    folder = get_settings().attachment_dir
    return sorted(folder.iterdir()) if folder.exists() else []


def _rows(session) -> int:
    return session.exec(select(func.count()).select_from(Attachment)).one()


@pytest.mark.parametrize(("name", "data", "kind"), [
    ("rash.png", files.png(), "image/png"),
    ("labs.pdf", files.pdf(), "application/pdf"),
    ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg"),
])
def test_allowed_files_are_stored_encrypted_and_round_trip(session, setup, name, data, kind):
    people, cid = setup
    stored = attachments.store_upload(session, actor=people["maria"], conversation_id=cid,
                                      filename=name, data=data)
    session.commit()
    assert stored.content_type == kind and stored.display_name == name
    [path] = _stored_files()
    raw = path.read_bytes()
    assert data not in raw and data[:16] not in raw  # ciphertext only on disk
    assert path.name == stored.stored_name and name not in str(path)
    send_message(session, actor=people["maria"], conversation_id=cid, body="",
                 client_msg_id="with-file", attachment_ids=[stored.id])
    session.commit()
    for reader in ("maria", "lee", "patel"):
        _, back = attachments.open_attachment(session, actor=people[reader],
                                              attachment_id=stored.id)
        session.commit()
        assert back == data
    [view] = [v for v in list_messages(session, conversation_id=cid) if v.attachments]
    session.commit()
    assert view.attachments[0].name == name


@pytest.mark.parametrize(("name", "data", "message"), [
    ("big.png", files.png() + b"\x00" * (11 * 1024 * 1024), "too large"),
    ("report.pdf", files.HTML_AS_PDF, "can't be attached"),
    ("setup.pdf", files.ELF_BINARY, "can't be attached"),
    ("setup.exe", files.WINDOWS_EXE, "can't be attached"),
    ("../../etc/passwd.png", files.png(), "not allowed"),
    ("..\\evil.png", files.png(), "not allowed"),
    ("", files.png(), "needs a name"),
])
def test_rejected_files_leave_nothing_behind(session, setup, name, data, message):
    people, cid = setup
    with pytest.raises(ValidationError) as error:
        attachments.store_upload(session, actor=people["maria"], conversation_id=cid,
                                 filename=name, data=data)
        session.commit()
    assert message in str(error.value)
    assert _rows(session) == 0
    assert _stored_files() == []


def test_only_the_patient_and_care_team_can_open_it(session, setup):
    people, cid = setup
    stored = attachments.store_upload(session, actor=people["maria"], conversation_id=cid,
                                      filename="rash.png", data=files.png())
    session.commit()
    send_message(session, actor=people["maria"], conversation_id=cid, body="see photo",
                 client_msg_id="m-photo", attachment_ids=[stored.id])
    session.commit()
    for outsider in ("james", "outsider"):
        with pytest.raises(NotFoundError) as error:
            attachments.open_attachment(session, actor=people[outsider], attachment_id=stored.id)
            session.commit()
        assert str(error.value) == attachments.INVALID_ATTACHMENT
    with pytest.raises(NotFoundError) as missing:
        attachments.open_attachment(session, actor=people["james"], attachment_id=999_999)
        session.commit()
    assert str(missing.value) == attachments.INVALID_ATTACHMENT
    denied = session.exec(select(AuditEvent).where(AuditEvent.action == "attachment_download",
                                                   AuditEvent.outcome == "denied")).all()
    assert len(denied) == 3
    with pytest.raises(NotFoundError):  # nor can an outsider upload into the conversation
        attachments.store_upload(session, actor=people["outsider"], conversation_id=cid,
                                 filename="x.png", data=files.png())
        session.commit()


def test_unsent_upload_is_private_to_its_uploader_and_cannot_be_hijacked(session, setup):
    people, cid = setup
    stored = attachments.store_upload(session, actor=people["maria"], conversation_id=cid,
                                      filename="draft.pdf", data=files.pdf())
    session.commit()
    with pytest.raises(NotFoundError):
        attachments.open_attachment(session, actor=people["lee"], attachment_id=stored.id)
        session.commit()
    with pytest.raises(ValidationError):  # Dr. Lee cannot send Maria's upload as his own
        send_message(session, actor=people["lee"], conversation_id=cid, body="mine now",
                     client_msg_id="steal", attachment_ids=[stored.id])
        session.commit()
    attachments.discard_upload(session, actor=people["maria"], attachment_id=stored.id)
    session.commit()
    assert _rows(session) == 0 and _stored_files() == []


def test_flipped_byte_in_a_stored_file_is_detected(session, setup):
    from care_messaging.crypto import TamperedDataError

    people, cid = setup
    stored = attachments.store_upload(session, actor=people["maria"], conversation_id=cid,
                                      filename="labs.pdf", data=files.pdf())
    session.commit()
    [path] = _stored_files()
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(TamperedDataError):
        attachments.open_attachment(session, actor=people["maria"], attachment_id=stored.id)
        session.commit()
