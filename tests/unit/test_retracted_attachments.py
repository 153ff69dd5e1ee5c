"""A retracted message's files, through the real route (GET /api/attachments/{id}): the
patient side gets the same 404 as for a file that does not exist (the sender too, when that
is the patient); providers on the care team still open them from the message's history,
which lists them; every attempt audited."""

from __future__ import annotations

import pytest
from sqlmodel import select

from care_messaging.models import AuditEvent
from care_messaging.services import attachments
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_changes import message_history, retract_message
from care_messaging.services.message_sending import send_message
from care_messaging.services.message_views import list_messages
from care_messaging.web.attachment_routes import routes as attachment_routes
from care_messaging.web.auth_routes import routes as auth_routes
from tests.factories import clinic
from tests.fixtures import files
from tests.route_client import route_client, sign_in


def _send_with_file(session, people, sender: str) -> tuple[int, int, int]:
    """(conversation id, message id, attachment id) of a message with a PDF from ``sender``."""
    conversation, _ = create_conversation(
        session, actor=people["lee"], patient_id=people["maria_patient"].id, reason="Test",
        topic="Results", body="Hello")
    session.commit()  # each a unit of work of its own, committed before the route reads
    upload = attachments.store_upload(session, actor=people[sender],
                                      conversation_id=conversation.id, filename="labs.pdf",
                                      data=files.pdf())
    session.commit()
    sent = send_message(session, actor=people[sender], conversation_id=conversation.id,
                        body="the wrong file", client_msg_id="w", attachment_ids=[upload.id])
    session.commit()
    return conversation.id, sent.message.id, upload.id



@pytest.fixture
def client(db_url):
    return route_client(auth_routes, attachment_routes)

def _get(client, email: str, attachment_id: int):
    sign_in(client, email)
    return client.get(f"/api/attachments/{attachment_id}")


def _downloads(session, user_id: int) -> list[tuple[str, str]]:
    return [(r.outcome, r.detail) for r in session.exec(
        select(AuditEvent).where(AuditEvent.action == Action.ATTACHMENT_DOWNLOAD,
                                 AuditEvent.actor_user_id == user_id)
        .order_by(AuditEvent.id)).all()]


def test_a_provider_retracts_the_patient_gets_not_found_the_team_still_opens_it(
        client, session):
    people = clinic(session)
    cid, mid, aid = _send_with_file(session, people, "lee")
    maria = people["maria"]
    assert _get(client, maria.email, aid).status_code == 200  # before: served
    retract_message(session, actor=people["lee"], message_id=mid)
    session.commit()
    refused, missing = _get(client, maria.email, aid), _get(client, maria.email, 987654)
    assert refused.status_code == missing.status_code == 404
    assert refused.content == missing.content and "labs" not in refused.text
    assert ({k: v for k, v in refused.headers.items() if k != "date"}
            == {k: v for k, v in missing.headers.items() if k != "date"})
    # Not listed on the thread for anyone (nothing of a retracted message is shown) ...
    view = next(v for v in list_messages(session, conversation_id=cid) if v.id == mid)
    assert view.attachments == ()
    # ... but kept in the record: the care team opens it from the history.
    history = message_history(session, actor=people["patel"], message_id=mid)
    session.commit()
    assert history[0].files == ((aid, "labs.pdf"),)
    for provider in ("lee", "patel"):
        opened = _get(client, people[provider].email, aid)
        assert opened.status_code == 200 and opened.content == files.pdf()
    assert _get(client, people["outsider"].email, aid).status_code == 404
    assert _downloads(session, maria.user_id)[1:] == [
        (Outcome.DENIED, "message retracted"), (Outcome.DENIED, "")]
    assert _downloads(session, people["patel"].user_id) == [
        (Outcome.SUCCESS, "from the record of a retracted message")]


def test_a_patient_who_retracts_no_longer_gets_their_own_file(client, session):
    people = clinic(session)
    _cid, mid, aid = _send_with_file(session, people, "maria")
    retract_message(session, actor=people["maria"], message_id=mid)
    session.commit()
    assert _get(client, people["maria"].email, aid).status_code == 404
    assert _get(client, people["lee"].email, aid).status_code == 200
