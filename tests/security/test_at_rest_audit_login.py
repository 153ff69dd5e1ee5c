"""Encryption at rest, tamper detection, the append-only audit log, throttling and TOTP."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from care_messaging import crypto, db
from care_messaging.models import AuditEvent, Message
from care_messaging.services import attachments, auth, message_views, receipts, totp
from care_messaging.services import conversations as conv
from care_messaging.services import message_sending as sending
from care_messaging.services.errors import AuthenticationError
from care_messaging.settings import get_settings
from care_messaging.web.auth_routes import routes as auth_routes
from tests.factories import PASSWORD, clinic
from tests.fixtures import files

KNOWN = "Known plaintext: HIV test negative, call 555-0199"
ORIGIN = {"Origin": "http://localhost:3000"}


def _database_bytes(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def test_no_plaintext_in_raw_database_or_stored_files(session, db_url):
    people = clinic(session)
    conversation, _ = conv.create_conversation(session, actor=people["lee"],
                                               patient_id=people["maria_patient"].id,
                                               reason="Test", topic="Results", body=KNOWN)
    session.commit()
    marker = b"ATTACHMENT-PLAINTEXT-MARKER-4242"
    stored = attachments.store_upload(session, actor=people["maria"],
                                      conversation_id=conversation.id, filename="labs.pdf",
                                      data=files.pdf() + marker)
    session.commit()
    with db.get_engine().connect() as connection:  # the ciphertext column, read raw
        raw = connection.execute(text("select body_ct from messages")).scalar_one()
    assert KNOWN.encode() not in raw
    for word in (b"HIV", b"negative", b"555-0199"):
        assert word not in _database_bytes(db_url)
    blob = (get_settings().attachment_dir / stored.stored_name).read_bytes()
    assert marker not in blob and b"%PDF" not in blob


def test_flipped_byte_is_detected_not_shown_as_garbage(session):
    people = clinic(session)
    conversation, _ = conv.create_conversation(session, actor=people["lee"],
                                               patient_id=people["maria_patient"].id,
                                               reason="Test", topic="Results", body=KNOWN)
    session.commit()
    row = session.exec(select(Message).where(Message.conversation_id == conversation.id)).one()
    tampered = bytearray(row.body_ct)
    tampered[20] ^= 0x01
    row.body_ct = bytes(tampered)
    session.add(row)
    session.commit()
    [view] = message_views.list_messages(session, conversation_id=conversation.id)
    session.commit()
    assert view.tampered is True and view.body == crypto.TAMPERED_TEXT
    # A ciphertext moved to another conversation does not decrypt there either.
    other, _ = conv.create_conversation(session, actor=people["lee"],
                                        patient_id=people["maria_patient"].id,
                                        reason="Test", topic="Other", body="fine")
    session.commit()
    moved = session.exec(select(Message).where(Message.conversation_id == other.id)).one()
    moved.body_ct = crypto.encrypt_text(KNOWN, aad=crypto.message_aad(
        conversation.id, moved.seq, moved.sender_user_id))[0]
    session.add(moved)
    session.commit()
    assert message_views.list_messages(session, conversation_id=other.id)[0].tampered is True


def _count(session, **where) -> int:
    session.expire_all()
    query = select(func.count()).select_from(AuditEvent)
    for key, value in where.items():
        query = query.where(getattr(AuditEvent, key) == value)
    return session.exec(query).one()


def test_every_audited_action_writes_exactly_one_row(session):
    people = clinic(session)
    steps = [
        ("conversation_create", lambda: conv.create_conversation(
            session, actor=people["maria"], patient_id=None, reason="Test", topic="Cough", body="3 days")),
    ]
    session.commit()
    conversation_id = None
    for action, step in steps:
        before = _count(session, action=action)
        result = step()
        conversation_id = result[0].id
        assert _count(session, action=action) == before + 1
    checks = [
        ("message_send", lambda: sending.send_message(session, actor=people["lee"],
                                                      conversation_id=conversation_id, body="Rest",
                                                      client_msg_id="a1")),
        ("message_read", lambda: receipts.mark_read(session, actor=people["maria"],
                                                    conversation=conv.access_conversation(
                                                        session, actor=people["maria"],
                                                        conversation_id=conversation_id))),
        ("status_change", lambda: conv.set_status(session, actor=people["lee"],
                                                  conversation_id=conversation_id,
                                                  status="completed")),
    ]
    session.commit()
    for action, step in checks:
        before = _count(session, action=action)
        step()
        assert _count(session, action=action) == before + 1, action
    body_rows = session.exec(select(AuditEvent.detail)).all()
    assert all("Rest" not in d and "3 days" not in d for d in body_rows)


@pytest.mark.parametrize("statement", ["update audit_events set outcome = 'success'",
                                       "delete from audit_events"])
def test_audit_rows_cannot_be_updated_or_deleted(session, statement):
    people = clinic(session)
    conv.create_conversation(session, actor=people["maria"], patient_id=None, reason="Test", topic="x", body="y")
    session.commit()
    before = _count(session)
    with pytest.raises(DBAPIError, match="append-only"):
        session.exec(text(statement))
        session.commit()
    session.rollback()
    assert _count(session) == before


@pytest.fixture
def client(db_url):
    return TestClient(Starlette(routes=auth_routes), base_url="http://localhost:3000")


def _login(client, email, password, code="") -> str:
    response = client.post("/api/auth/login", data={"email": email, "password": password,
                                                    "code": code},
                           headers=ORIGIN, follow_redirects=False)
    return response.headers["location"]


def test_http_login_throttles_known_and_unknown_alike(client, session):
    people = clinic(session)
    limit = get_settings().login_max_failures
    for email in (people["maria"].email, "nobody@test.care"):
        answers = {_login(client, email, "wrong") for _ in range(limit)}
        assert answers == {"/login?error=invalid"}  # the typed email is never in the address
        assert "error=locked" in _login(client, email, "wrong")
    assert "error=locked" in _login(client, people["maria"].email, PASSWORD)
    assert auth.SESSION_COOKIE not in client.cookies


def test_cross_site_login_post_is_refused(client, session):
    people = clinic(session)
    response = client.post("/api/auth/login", data={"email": people["maria"].email,
                                                    "password": PASSWORD},
                           headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert "error=invalid" in response.headers["location"]
    assert auth.SESSION_COOKIE not in response.cookies


def test_totp_provider_cannot_sign_in_without_a_valid_code(client, session):
    people = clinic(session)
    lee = people["lee"]
    secret, uri = totp.begin_enrollment(session, actor=lee)
    session.commit()
    assert uri.startswith("otpauth://totp/")
    totp.confirm_enrollment(session, actor=lee, code=pyotp.TOTP(secret).now())
    session.commit()
    # Service level.
    assert auth.login(session, email=lee.email, password=PASSWORD).needs_totp
    with pytest.raises(AuthenticationError):
        auth.login(session, email=lee.email, password=PASSWORD, totp_code="000000")
    session.commit()  # the caller's unit keeps the counted failure
    # HTTP level: password alone asks for the code, a wrong code is refused, no cookie either way.
    assert "step=totp" in _login(client, lee.email, PASSWORD)
    assert "error=invalid" in _login(client, lee.email, PASSWORD, "123456")
    assert auth.SESSION_COOKIE not in client.cookies
    # The code that confirmed enrolment was used once already (replay): the next one works.
    assert "error=invalid" in _login(client, lee.email, PASSWORD, pyotp.TOTP(secret).now())
    next_code = pyotp.TOTP(secret).at(time.time() + 30)
    assert _login(client, lee.email, PASSWORD, next_code) == "/dashboard"
    assert auth.SESSION_COOKIE in client.cookies
