"""Attachment edge cases beyond the basics: misnamed files, audit on every refusal, integrity."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from care_messaging.crypto import TamperedDataError
from care_messaging.models import Attachment, AuditEvent
from care_messaging.services import attachments
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.conversations import create_conversation
from care_messaging.services.errors import ValidationError
from care_messaging.services.message_sending import send_message
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


def _upload_audit(session) -> list[str]:
    return list(session.exec(select(AuditEvent.outcome).where(
        AuditEvent.action == Action.ATTACHMENT_UPLOAD)).all())


@pytest.mark.parametrize(("name", "data", "message"), [
    ("notes.html", files.png(), "does not match its contents"),  # PNG bytes, HTML name
    ("rash.pdf", files.png(), "Rename it to end in .png"),
    ("labs.exe", files.pdf(), "Rename it to end in .pdf"),
    ("labs", files.pdf(), "does not match its contents"),
    ("../labs.pdf", files.pdf(), "not allowed"),
    ("labs.pdf", b"", "empty"),
    ("big.pdf", b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024), "too large"),
    ("page.pdf", files.HTML_AS_PDF, "can't be attached"),
    ("tool.png", files.ELF_BINARY, "can't be attached"),
])
def test_every_refusal_is_audited_and_stores_nothing(session, setup, name, data, message):
    people, cid = setup
    with pytest.raises(ValidationError, match=message):
        attachments.store_upload(session, actor=people["maria"], conversation_id=cid,
                                 filename=name, data=data)
        session.commit()
    assert session.exec(select(func.count()).select_from(Attachment)).one() == 0
    assert _stored_files() == []
    assert _upload_audit(session) == [Outcome.REJECTED]


def test_uppercase_and_alternate_extensions_are_accepted(session, setup):
    people, cid = setup
    for name, data in (("SCAN.PDF", files.pdf()), ("photo.jpeg", b"\xff\xd8\xff\xe0" + b"\0" * 32)):
        stored = attachments.store_upload(session, actor=people["maria"], conversation_id=cid,
                                          filename=name, data=data)
        session.commit()
        assert stored.display_name == name
    assert _upload_audit(session) == [Outcome.SUCCESS, Outcome.SUCCESS]


def test_attachment_folder_is_private_and_outside_the_web_root(session, setup):
    people, cid = setup
    attachments.store_upload(session, actor=people["maria"], conversation_id=cid,
                             filename="rash.png", data=files.png())
    session.commit()
    folder = get_settings().attachment_dir
    assert folder.stat().st_mode & 0o077 == 0
    assert "_upload" not in folder.parts and ".web" not in folder.parts
    assert "uploaded_files" not in folder.parts


def _sent(session, people, cid, name: str, data: bytes) -> Attachment:
    stored = attachments.store_upload(session, actor=people["maria"], conversation_id=cid,
                                      filename=name, data=data)
    session.commit()
    send_message(session, actor=people["maria"], conversation_id=cid, body="file",
                 client_msg_id=f"m-{name}", attachment_ids=[stored.id])
    session.commit()
    return stored


def _failures(session) -> int:
    return session.exec(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == Action.ATTACHMENT_DOWNLOAD,
        AuditEvent.outcome == Outcome.FAILURE)).one()


def test_missing_stored_file_is_a_verification_failure_not_a_crash(session, setup):
    people, cid = setup
    stored = _sent(session, people, cid, "labs.pdf", files.pdf())
    (get_settings().attachment_dir / stored.stored_name).unlink()
    with pytest.raises(TamperedDataError):
        attachments.open_attachment(session, actor=people["lee"], attachment_id=stored.id)
        session.commit()
    assert _failures(session) == 1


def test_ciphertext_swapped_between_conversations_is_refused(session, setup):
    people, cid = setup
    other, _ = create_conversation(session, actor=people["maria"], patient_id=None,
                                   reason="Test", topic="Second", body="Another")
    session.commit()
    mine = _sent(session, people, cid, "a.png", files.png())
    theirs = _sent(session, people, other.id, "b.png", files.png(rgb=(1, 2, 3)))
    folder = get_settings().attachment_dir
    (folder / theirs.stored_name).write_bytes((folder / mine.stored_name).read_bytes())
    with pytest.raises(TamperedDataError):
        attachments.open_attachment(session, actor=people["maria"], attachment_id=theirs.id)
        session.commit()
    assert _failures(session) == 1


def test_swapped_file_within_one_conversation_fails_the_digest_check(session, setup):
    people, cid = setup
    first = _sent(session, people, cid, "first.png", files.png())
    second = _sent(session, people, cid, "second.png", files.png(rgb=(9, 9, 9)))
    folder = get_settings().attachment_dir
    # Same conversation, same associated data: only the stored digest notices the swap.
    (folder / second.stored_name).write_bytes((folder / first.stored_name).read_bytes())
    with pytest.raises(TamperedDataError):
        attachments.open_attachment(session, actor=people["maria"], attachment_id=second.id)
        session.commit()
