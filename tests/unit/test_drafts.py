"""Drafts: per user and conversation, encrypted and bound, cleared by a send, listed."""

from __future__ import annotations

import pytest
from sqlmodel import select

from care_messaging.models import AuditEvent, MessageDraft
from care_messaging.services import drafts
from care_messaging.services.conversation_list import list_conversations
from care_messaging.services.conversations import create_conversation
from care_messaging.services.errors import NotFoundError, ValidationError
from care_messaging.services.message_sending import send_message
from tests.factories import clinic


def _setup(session):
    people = clinic(session)
    conversation, _ = create_conversation(
        session, actor=people["lee"], patient_id=people["maria_patient"].id,
        reason="Test", topic="Lab results", body="Results are in.")
    session.commit()  # the caller's unit of work (services never commit)
    return people, conversation.id


def test_a_draft_is_kept_encrypted_for_its_writer_only(session):
    people, cid = _setup(session)
    saved = drafts.save_draft(session, actor=people["lee"], conversation_id=cid,
                              body="Half a reply about potassium")
    session.commit()
    assert saved.has_draft and saved.listed_changed
    assert not drafts.save_draft(session, actor=people["lee"], conversation_id=cid,
                                 body="Half a reply about potassium, more").listed_changed
    session.commit()
    row = session.get(MessageDraft, (people["lee"].user_id, cid))
    assert b"potassium" not in row.body_ct
    assert drafts.draft_text(session, actor=people["lee"], conversation_id=cid) == \
        "Half a reply about potassium, more"
    # Another member of the same team has no draft there; the patient neither.
    assert drafts.draft_text(session, actor=people["patel"], conversation_id=cid) == ""
    assert drafts.draft_text(session, actor=people["maria"], conversation_id=cid) == ""
    saves = session.exec(select(AuditEvent).where(AuditEvent.action == "draft_save")).all()
    assert len(saves) == 2 and all("potassium" not in r.detail for r in saves)


def test_a_draft_copied_to_another_user_does_not_decrypt(session):
    people, cid = _setup(session)
    drafts.save_draft(session, actor=people["lee"], conversation_id=cid, body="Secret words")
    session.commit()
    source = session.get(MessageDraft, (people["lee"].user_id, cid))
    session.add(MessageDraft(user_id=people["patel"].user_id, conversation_id=cid,
                             body_ct=source.body_ct, key_id=source.key_id))
    session.commit()
    assert drafts.draft_text(session, actor=people["patel"], conversation_id=cid) == ""


def test_sending_clears_the_senders_draft_and_the_list_says_draft(session):
    people, cid = _setup(session)
    drafts.save_draft(session, actor=people["maria"], conversation_id=cid, body="Typing…")
    session.commit()
    drafts.save_draft(session, actor=people["lee"], conversation_id=cid, body="Lee's note")
    session.commit()
    assert list_conversations(session, actor=people["maria"]).rows[0].has_draft
    send_message(session, actor=people["maria"], conversation_id=cid, body="Sent now",
                 client_msg_id="d-1")
    session.commit()
    assert drafts.draft_text(session, actor=people["maria"], conversation_id=cid) == ""
    assert not list_conversations(session, actor=people["maria"]).rows[0].has_draft
    # Only the sender's: Dr. Lee's draft in the same conversation stays.
    assert list_conversations(session, actor=people["lee"]).rows[0].has_draft


def test_blank_deletes_and_forged_conversations_are_not_found(session):
    people, cid = _setup(session)
    drafts.save_draft(session, actor=people["lee"], conversation_id=cid, body="x")
    session.commit()
    cleared = drafts.save_draft(session, actor=people["lee"], conversation_id=cid, body="  ")
    session.commit()
    assert not cleared.has_draft and cleared.listed_changed
    assert session.exec(select(MessageDraft)).all() == []
    for actor, forged in (("outsider", cid), ("james", cid), ("lee", 999_999), ("lee", "1")):
        with pytest.raises(NotFoundError):
            drafts.save_draft(session, actor=people[actor], conversation_id=forged, body="x")
        session.rollback()  # the denial's row stays: it was written apart
    assert session.exec(select(MessageDraft)).all() == []
    denied = session.exec(select(AuditEvent).where(AuditEvent.action == "draft_save",
                                                   AuditEvent.outcome == "denied")).all()
    assert len(denied) == 4
    with pytest.raises(ValidationError):
        drafts.save_draft(session, actor=people["lee"], conversation_id=cid, body="x" * 5001)
