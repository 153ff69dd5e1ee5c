"""GET /api/conversations/{id}/fhir: the care team gets a Bundle as a download; everyone
else, signed out or forged, gets the attachment route's one identical 404."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlmodel import select

from care_messaging.models import AuditEvent
from care_messaging.services import attachments, auth
from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from care_messaging.web.attachment_routes import routes as attachment_routes
from care_messaging.web.auth_routes import routes as auth_routes
from care_messaging.web.fhir_routes import routes as fhir_routes
from tests.factories import clinic, make_admin
from tests.fixtures import files
from tests.route_client import route_client, sign_in


@pytest.fixture
def client(db_url):
    return route_client(auth_routes, attachment_routes, fhir_routes)



@pytest.fixture
def thread(session):
    people = clinic(session)
    conversation, _ = create_conversation(session, actor=people["maria"], patient_id=None,
                                          reason="Test", topic="Photos", body="Attached")
    session.commit()  # each a unit of work of its own; committed before the route reads
    upload = attachments.store_upload(session, actor=people["maria"],
                                      conversation_id=conversation.id, filename="labs.pdf",
                                      data=files.pdf())
    session.commit()
    send_message(session, actor=people["maria"], conversation_id=conversation.id, body="file",
                 client_msg_id="f", attachment_ids=[upload.id])
    session.commit()
    return people, conversation


def test_care_team_downloads_a_valid_bundle_with_safe_headers(client, thread, session):
    people, conversation = thread
    for who in ("lee", "patel"):
        response = sign_in(client, people[who].email).get(
            f"/api/conversations/{conversation.id}/fhir")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/fhir+json")
        assert response.headers["content-disposition"] == (
            f'attachment; filename="conversation-{conversation.id}-fhir.json"')
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        bundle = Bundle.model_validate(response.json())
        # The Patient, the header, two messages, the file (no provider has written yet).
        assert len(bundle.entry) == 5
    exports = session.exec(select(AuditEvent).where(AuditEvent.action == "fhir_export",
                                                    AuditEvent.outcome == "success")).all()
    assert sorted(a.actor_user_id for a in exports) == sorted(
        [people["lee"].user_id, people["patel"].user_id])


def test_every_refusal_is_the_same_not_found(client, thread, session):
    people, conversation = thread
    url = f"/api/conversations/{conversation.id}/fhir"
    answers = []
    client.cookies.clear()
    answers.append(client.get(url))  # no cookie
    client.cookies.set(auth.SESSION_COOKIE, "forged")
    answers.append(client.get(url))  # forged cookie
    # A provider on another patient's team, the patient herself (the portal offers no
    # export), another patient, and a conversation that does not exist.
    for who in ("outsider", "maria", "james"):
        answers.append(sign_in(client, people[who].email).get(url))
    answers.append(sign_in(client, people["lee"].email).get("/api/conversations/999999/fhir"))
    assert [a.status_code for a in answers] == [404] * 6
    assert len({a.text for a in answers}) == 1
    assert all(a.headers["cache-control"] == "no-store" for a in answers)
    assert all("Attached" not in a.text for a in answers)
    denied = session.exec(select(AuditEvent).where(AuditEvent.action == "fhir_export",
                                                   AuditEvent.outcome == "denied")).all()
    assert len(denied) == 4  # each signed-in refusal is on the record


def test_admin_download_has_no_message_text(client, thread, session):
    _people, conversation = thread
    admin = make_admin(session)
    response = sign_in(client, admin.email).get(f"/api/conversations/{conversation.id}/fhir")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["tag"][0]["code"] == "no-text"
    text = json.dumps(body)
    assert "Attached" not in text and "labs.pdf" not in text
