"""Retract and correct: the sender only, within the window, nothing deleted, all audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from care_messaging import crypto
from care_messaging.models import AuditEvent, Message, MessageRevision, utcnow
from care_messaging.services import events
from care_messaging.services.conversation_list import list_conversations
from care_messaging.services.conversations import create_conversation
from care_messaging.services.errors import NotFoundError, ValidationError
from care_messaging.services.message_changes import (
    correct_message,
    message_history,
    retract_message,
)
from care_messaging.services.message_revisions import (
    RETRACTED_TEXT,
    MessageState,
    message_state,
)
from care_messaging.services.message_sending import send_message
from care_messaging.services.message_views import list_messages
from care_messaging.services.search import search_messages
from tests.factories import clinic


def _setup(session):
    people = clinic(session)
    conversation, _ = create_conversation(
        session, actor=people["lee"], patient_id=people["maria_patient"].id,
        reason="Test", topic="Lab results", body="Your potassium is normal.")
    sent = send_message(session, actor=people["maria"], conversation_id=conversation.id,
                        body="Thanks doctor, zebrafish question", client_msg_id="m-1")
    session.commit()  # the caller's unit of work (services never commit)
    return people, conversation.id, sent.message.id


def _audit(session, action):
    return session.exec(select(AuditEvent).where(AuditEvent.action == action)
                        .order_by(AuditEvent.id)).all()


def _age(session, message_id, minutes):
    message = session.get(Message, message_id)
    message.created_at = utcnow() - timedelta(minutes=minutes)
    session.add(message)
    session.commit()


def test_retract_keeps_the_original_and_everyone_sees_the_notice(session):
    people, cid, mid = _setup(session)
    view = retract_message(session, actor=people["maria"], message_id=mid)
    session.commit()
    assert view.state == MessageState.RETRACTED and view.body == RETRACTED_TEXT
    # The provider's thread and list preview show the notice, never the text.
    shown = {v.id: v for v in list_messages(session, conversation_id=cid)}
    assert shown[mid].body == RETRACTED_TEXT
    row = list_conversations(session, actor=people["lee"]).rows[0]
    assert row.preview == RETRACTED_TEXT and "zebrafish" not in row.preview
    # Nor does search find it any more.
    assert search_messages(session, actor=people["lee"], query="zebrafish") == []
    # The original is still stored, encrypted and readable by the record's own key.
    stored = session.get(Message, mid)
    assert message_state(stored) == MessageState.RETRACTED
    assert b"zebrafish" not in stored.body_ct
    aad = crypto.message_aad(stored.conversation_id, stored.seq, stored.sender_user_id)
    assert "zebrafish" in crypto.decrypt_text(stored.body_ct, aad=aad, key_id=stored.key_id)
    rows = _audit(session, "message_retract")
    assert [(r.outcome, r.object_id, r.actor_user_id) for r in rows] == [
        ("success", str(mid), people["maria"].user_id)]
    assert "zebrafish" not in rows[0].detail


def test_corrections_are_new_bound_bodies_and_the_history_keeps_every_step(session):
    people, cid, mid = _setup(session)
    correct_message(session, actor=people["maria"], message_id=mid, body="Thanks, one question")
    session.commit()
    view = correct_message(session, actor=people["maria"], message_id=mid, body="Thank you!")
    session.commit()
    assert view.state == MessageState.CORRECTED and view.body == "Thank you!"
    assert view.changed_at is not None
    revisions = session.exec(select(MessageRevision).order_by(MessageRevision.id)).all()
    assert [r.revision_no for r in revisions] == [1, 2]
    assert all(b"Thank" not in (r.body_ct or b"") for r in revisions)
    history = message_history(session, actor=people["patel"], message_id=mid)
    session.commit()
    assert [(h.kind, h.text) for h in history] == [
        ("original", "Thanks doctor, zebrafish question"),
        ("correct", "Thanks, one question"), ("correct", "Thank you!")]
    assert [h.at for h in history] == sorted(h.at for h in history)
    assert len(_audit(session, "message_correct")) == 2
    assert [r.outcome for r in _audit(session, "message_history")] == ["success"]
    # Retracting after a correction: the notice wins, the history grows by one.
    retract_message(session, actor=people["maria"], message_id=mid)
    session.commit()
    assert list_messages(session, conversation_id=cid)[-1].body == RETRACTED_TEXT
    assert message_history(session, actor=people["lee"], message_id=mid)[-1].kind == "retract"


def test_a_correction_moved_to_another_message_does_not_decrypt(session):
    people, cid, mid = _setup(session)
    other = send_message(session, actor=people["maria"], conversation_id=cid, body="Second",
                         client_msg_id="m-2").message.id
    session.commit()
    correct_message(session, actor=people["maria"], message_id=mid, body="Fixed one")
    session.commit()
    correct_message(session, actor=people["maria"], message_id=other, body="Fixed two")
    session.commit()
    first, second = session.exec(select(MessageRevision).order_by(MessageRevision.id)).all()
    first.body_ct, second.body_ct = second.body_ct, first.body_ct
    session.add_all([first, second])
    session.commit()
    bodies = {v.id: v.body for v in list_messages(session, conversation_id=cid)}
    assert "Fixed" not in bodies[mid] and "Fixed" not in bodies[other]


def test_after_the_window_nothing_changes_and_the_refusal_is_audited(session, monkeypatch):
    people, cid, mid = _setup(session)
    _age(session, mid, 16)
    with pytest.raises(ValidationError, match="within 15 minutes"):
        retract_message(session, actor=people["maria"], message_id=mid)
    session.rollback()  # the refusal's row stays: it was written apart
    with pytest.raises(ValidationError, match="within 15 minutes"):
        correct_message(session, actor=people["maria"], message_id=mid, body="late")
    session.rollback()
    assert session.exec(select(MessageRevision)).all() == []
    assert [r.outcome for r in _audit(session, "message_retract")] == ["rejected"]
    # The clinic's setting moves the window.
    monkeypatch.setenv("CARE_RETRACT_WINDOW_MINUTES", "30")
    from care_messaging.settings import get_settings
    get_settings.cache_clear()
    retract_message(session, actor=people["maria"], message_id=mid)
    session.commit()
    assert list_messages(session, conversation_id=cid)[-1].state == MessageState.RETRACTED


def test_only_the_sender_and_forged_ids_look_like_not_found(session):
    people, cid, mid = _setup(session)
    lees = list_messages(session, conversation_id=cid)[0].id  # Dr. Lee's opening message
    # Another participant (the provider), an outsider, the other patient: all "not found".
    for actor in ("lee", "outsider", "james"):
        with pytest.raises(NotFoundError, match="Message not found"):
            retract_message(session, actor=people[actor], message_id=mid)
        session.rollback()  # the denial's row stays: it was written apart
    # The patient on someone else's message in her own conversation; ids that do not exist.
    for forged in (lees, 999_999, -1, "1 OR 1=1", None):
        with pytest.raises(NotFoundError, match="Message not found"):
            correct_message(session, actor=people["maria"], message_id=forged, body="x")
        session.rollback()
    assert session.exec(select(MessageRevision)).all() == []
    assert session.get(Message, mid).retracted_at is None
    denied = [r for r in _audit(session, "message_retract") + _audit(session, "message_correct")]
    assert len(denied) == 8 and {r.outcome for r in denied} == {"denied"}


def test_a_sender_who_left_the_care_team_cannot_change_their_message(session):
    from care_messaging.models import CareTeamMember

    people, cid, _ = _setup(session)
    lees = list_messages(session, conversation_id=cid)[0].id
    member = session.exec(select(CareTeamMember).where(
        CareTeamMember.provider_id == people["lee"].provider_id)).first()
    session.delete(member)
    session.commit()
    with pytest.raises(NotFoundError, match="Message not found"):
        retract_message(session, actor=people["lee"], message_id=lees)
    session.rollback()
    assert session.get(Message, lees).retracted_at is None


def test_history_is_for_the_care_team_only(session):
    people, _, mid = _setup(session)
    correct_message(session, actor=people["maria"], message_id=mid, body="Edited")
    session.commit()
    for actor in ("maria", "james", "outsider"):
        with pytest.raises(NotFoundError):
            message_history(session, actor=people[actor], message_id=mid)
        session.rollback()  # the denial's row stays: it was written apart
    assert {r.outcome for r in _audit(session, "message_history")} == {"denied"}


def test_twice_retracted_and_empty_corrections_are_refused(session):
    people, _, mid = _setup(session)
    with pytest.raises(ValidationError):
        correct_message(session, actor=people["maria"], message_id=mid, body="   ")
    session.rollback()
    retract_message(session, actor=people["maria"], message_id=mid)
    session.commit()
    with pytest.raises(ValidationError, match="already retracted"):
        retract_message(session, actor=people["maria"], message_id=mid)
    session.rollback()
    with pytest.raises(ValidationError, match="already retracted"):
        correct_message(session, actor=people["maria"], message_id=mid, body="again")
    session.rollback()
    assert [r.outcome for r in _audit(session, "message_retract")] == ["success", "rejected"]


def test_a_change_is_one_domain_event_for_the_participants_after_commit(session):
    people, cid, mid = _setup(session)
    seen: list = []
    events.on_commit(seen.extend)
    try:
        correct_message(session, actor=people["maria"], message_id=mid, body="Better words")
        assert seen == []  # published when the caller's unit commits, not before
        session.commit()
    finally:
        events.remove(seen.extend)
    changed = [e for e in seen if e.kind == events.Kind.MESSAGE_CHANGED]
    assert len(changed) == 1
    event = changed[0]
    assert event.conversation_id == cid and event.message.body == "Better words"
    assert set(event.user_ids) == {people["maria"].user_id, people["lee"].user_id,
                                   people["patel"].user_id}
