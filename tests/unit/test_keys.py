"""Key rotation re-encrypts messages, files and TOTP secrets; everything still reads back."""

from __future__ import annotations

import base64
import os

import pyotp
from sqlmodel import select

from care_messaging.models import Attachment, Message, User
from care_messaging.services import attachments, keys, totp
from care_messaging.services import conversations as conv
from care_messaging.services.message_views import list_messages
from tests.conftest import reset_caches
from tests.factories import clinic
from tests.fixtures import files


def test_rotation_moves_everything_to_the_new_key(session, monkeypatch):
    people = clinic(session)
    conversation, _ = conv.create_conversation(session, actor=people["maria"], patient_id=None,
                                               reason="Test", topic="Old key", body="Written under k1")
    stored = attachments.store_upload(session, actor=people["maria"],
                                      conversation_id=conversation.id, filename="a.pdf",
                                      data=files.pdf())
    secret, _ = totp.begin_enrollment(session, actor=people["lee"])
    old = os.environ["CARE_ENCRYPTION_KEYS"]
    new_key = "k2:" + base64.urlsafe_b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("CARE_ENCRYPTION_KEYS", f"{new_key},{old}")  # k2 active, k1 still known
    reset_caches()
    report = keys.rotate_keys(session)
    assert report.messages == 1 and report.attachments == 1 and report.totp_secrets == 1
    session.expire_all()
    assert {m.key_id for m in session.exec(select(Message)).all()} == {"k2"}
    assert session.get(Attachment, stored.id).key_id == "k2"
    # With the old key gone entirely, everything still reads.
    monkeypatch.setenv("CARE_ENCRYPTION_KEYS", new_key)
    reset_caches()
    assert list_messages(session, conversation_id=conversation.id)[0].body == "Written under k1"
    _, data = attachments.open_attachment(session, actor=people["maria"], attachment_id=stored.id)
    assert data == files.pdf()
    lee = session.get(User, people["lee"].user_id)
    from care_messaging.services.auth import totp_secret

    assert totp_secret(lee) == secret and pyotp.TOTP(secret).now()


def test_rotation_moves_corrections_and_drafts_too(session, monkeypatch):
    from care_messaging.services import drafts
    from care_messaging.services.message_changes import correct_message

    people = clinic(session)
    conversation, _ = conv.create_conversation(session, actor=people["maria"], patient_id=None,
                                               reason="Test", topic="Old key", body="First")
    session.commit()  # each a unit of work of its own (services never commit)
    first = list_messages(session, conversation_id=conversation.id)[0]
    correct_message(session, actor=people["maria"], message_id=first.id, body="Corrected")
    session.commit()
    drafts.save_draft(session, actor=people["maria"], conversation_id=conversation.id,
                      body="Half typed")
    session.commit()
    old = os.environ["CARE_ENCRYPTION_KEYS"]
    new_key = "k2:" + base64.urlsafe_b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("CARE_ENCRYPTION_KEYS", f"{new_key},{old}")
    reset_caches()
    keys.rotate_keys(session)
    session.commit()
    monkeypatch.setenv("CARE_ENCRYPTION_KEYS", new_key)  # the old key gone entirely
    reset_caches()
    session.expire_all()
    assert list_messages(session, conversation_id=conversation.id)[0].body == "Corrected"
    assert drafts.draft_text(session, actor=people["maria"],
                             conversation_id=conversation.id) == "Half typed"
