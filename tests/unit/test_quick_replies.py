"""Quick replies: placeholders filled for the open conversation, clinic-wide and personal
ones, who may manage which, and the audit trail."""

from __future__ import annotations

import pytest
from sqlmodel import select

from care_messaging.models import AuditEvent
from care_messaging.services import quick_replies as qr
from care_messaging.services.conversations import create_conversation
from care_messaging.services.errors import NotFoundError, ValidationError
from tests.factories import actor_of, clinic, make_admin


def test_fill_replaces_only_the_known_placeholders_once():
    text = "Hi {patient_first_name}, {provider_name} here. {unknown} stays; {provider_name}."
    assert qr.fill(text, patient_first_name="Maria", provider_name="Dr. Lee") == \
        "Hi Maria, Dr. Lee here. {unknown} stays; Dr. Lee."
    # A name that looks like a placeholder is not filled a second time.
    assert qr.fill("{patient_first_name}!", patient_first_name="{provider_name}",
                   provider_name="X") == "{provider_name}!"


@pytest.fixture
def people(session):
    people = clinic(session)
    people["admin"] = actor_of(session, make_admin(session))
    people["conversation"], _ = create_conversation(
        session, actor=people["maria"], patient_id=None, topic="Refill", reason="Refill",
        body="Could I get a refill?")
    session.commit()  # the caller's unit of work (services never commit)
    return people


def test_a_provider_gets_clinic_and_own_replies_filled_for_the_conversation(session, people):
    qr.save(session, actor=people["admin"], clinic_wide=True, name="thanks",
            body="Thank you {patient_first_name}, we received your message.")
    session.commit()
    qr.save(session, actor=people["admin"], clinic_wide=True, name="refill",
            body="Clinic refill text")
    session.commit()
    qr.save(session, actor=people["lee"], clinic_wide=False, name="/Refill",
            body="Hi {patient_first_name}, I sent the refill. - {provider_name}")
    session.commit()
    qr.save(session, actor=people["patel"], clinic_wide=False, name="mine",
            body="Patel's own")
    session.commit()
    filled = qr.for_conversation(session, actor=people["lee"],
                                 conversation_id=people["conversation"].id)
    assert [(v.name, v.body, v.clinic_wide) for v in filled] == [
        ("refill", "Hi Maria, I sent the refill. - Dr. Lee", False),  # own hides the clinic's
        ("thanks", "Thank you Maria, we received your message.", True),
    ]
    # Another care-team member gets the same name filled with their own.
    patel = qr.for_conversation(session, actor=people["patel"],
                                conversation_id=people["conversation"].id)
    assert {v.name for v in patel} == {"mine", "refill", "thanks"}


def test_access_is_checked_before_a_name_is_filled(session, people):
    qr.save(session, actor=people["admin"], clinic_wide=True, name="hi",
            body="Hi {patient_first_name}")
    session.commit()
    with pytest.raises(NotFoundError):  # not on Maria's team: looks like no conversation
        qr.for_conversation(session, actor=people["outsider"],
                            conversation_id=people["conversation"].id)
    session.rollback()
    with pytest.raises(NotFoundError):  # patients have no quick replies
        qr.for_conversation(session, actor=people["maria"],
                            conversation_id=people["conversation"].id)
    session.rollback()


def test_who_manages_which(session, people):
    with pytest.raises(NotFoundError):
        qr.save(session, actor=people["lee"], clinic_wide=True, name="x", body="y")
    session.rollback()
    with pytest.raises(NotFoundError):
        qr.save(session, actor=people["maria"], clinic_wide=False, name="x", body="y")
    session.rollback()
    own = qr.save(session, actor=people["lee"], clinic_wide=False, name="x", body="y")
    session.commit()
    with pytest.raises(NotFoundError):  # Patel cannot change or delete Lee's
        qr.save(session, actor=people["patel"], clinic_wide=False, name="x", body="z",
                quick_reply_id=own.id)
    session.rollback()
    with pytest.raises(NotFoundError):
        qr.delete(session, actor=people["patel"], clinic_wide=False, quick_reply_id=own.id)
    session.rollback()
    with pytest.raises(ValidationError):
        qr.save(session, actor=people["lee"], clinic_wide=False, name="x", body="again")
    session.rollback()
    with pytest.raises(ValidationError):
        qr.save(session, actor=people["lee"], clinic_wide=False, name="has space", body="y")
    session.rollback()
    qr.save(session, actor=people["lee"], clinic_wide=False, name="x", body="changed",
            quick_reply_id=own.id)
    session.commit()
    assert [v.body for v in qr.list_own(session, actor=people["lee"], clinic_wide=False)] == [
        "changed"]
    qr.delete(session, actor=people["lee"], clinic_wide=False, quick_reply_id=own.id)
    session.commit()
    assert qr.list_own(session, actor=people["lee"], clinic_wide=False) == []
    details = [a.detail for a in session.exec(select(AuditEvent).where(
        AuditEvent.action == qr.ACTION).order_by(AuditEvent.id)).all()]
    assert [d.split()[0] for d in details] == ["create", "update", "delete"]
