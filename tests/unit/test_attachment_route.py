"""GET /api/attachments/{id}: headers, and one identical 404 for every kind of "no"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from care_messaging.models import AuthSession
from care_messaging.services import attachments, auth
from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from care_messaging.settings import get_settings
from care_messaging.web.attachment_routes import routes as attachment_routes
from care_messaging.web.auth_routes import routes as auth_routes
from tests.factories import clinic
from tests.fixtures import files
from tests.route_client import route_client, sign_in


@pytest.fixture
def client(db_url):
    return route_client(auth_routes, attachment_routes)



@pytest.fixture
def shared(session):
    people = clinic(session)
    conversation, _ = create_conversation(session, actor=people["maria"], patient_id=None,
                                          reason="Test", topic="Photos", body="Attached")
    session.commit()
    image = attachments.store_upload(session, actor=people["maria"],
                                     conversation_id=conversation.id, filename="rash.png",
                                     data=files.png())
    session.commit()
    document = attachments.store_upload(session, actor=people["maria"],
                                        conversation_id=conversation.id, filename="labs.pdf",
                                        data=files.pdf())
    session.commit()
    send_message(session, actor=people["maria"], conversation_id=conversation.id, body="files",
                 client_msg_id="f", attachment_ids=[image.id, document.id])
    session.commit()
    return people, image, document


def test_patient_and_care_team_download_with_safe_headers(client, shared):
    people, image, document = shared
    for email in (people["maria"].email, people["lee"].email):
        sign_in(client, email)
        response = client.get(f"/api/attachments/{document.id}")
        assert response.status_code == 200 and response.content == files.pdf()
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"].startswith('attachment; filename="labs.pdf"')
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        thumbnail = client.get(f"/api/attachments/{image.id}")
        assert thumbnail.headers["content-disposition"].startswith("inline")
        download = client.get(f"/api/attachments/{image.id}?download=1")
        assert download.headers["content-disposition"].startswith("attachment")
        assert download.content == files.png()


def test_every_refusal_is_the_same_not_found(client, shared, session):
    people, _image, document = shared
    url = f"/api/attachments/{document.id}"
    answers = []
    client.cookies.clear()
    answers.append(client.get(url))  # signed out
    client.cookies.set(auth.SESSION_COOKIE, "forged")
    answers.append(client.get(url))  # forged cookie
    for email in (people["james"].email, people["outsider"].email):
        answers.append(sign_in(client, email).get(url))  # another patient, outside provider
    answers.append(sign_in(client, people["maria"].email).get("/api/attachments/999999"))
    # An expired session, then a logged-out one.
    token = client.cookies.get(auth.SESSION_COOKIE)
    row = session.exec(select(AuthSession).where(
        AuthSession.token_hash == auth.hash_token(token))).one()
    row.last_seen_at -= timedelta(seconds=get_settings().idle_timeout_seconds + 1)
    session.add(row)
    session.commit()
    answers.append(client.get(url))
    revoked = sign_in(client, people["maria"].email).cookies.get(auth.SESSION_COOKIE)
    assert client.get(url).status_code == 200
    client.post("/api/auth/logout", headers={"Origin": "http://localhost:3000"},
                follow_redirects=False)
    client.cookies.set(auth.SESSION_COOKIE, revoked)  # a copy kept after signing out
    answers.append(client.get(url))
    assert [a.status_code for a in answers] == [404] * 7
    assert len({a.text for a in answers}) == 1
    assert all(a.headers["cache-control"] == "no-store" for a in answers)
