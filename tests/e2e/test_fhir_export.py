"""Issue 22: a provider downloads the open conversation as a FHIR R4 Bundle from the thread
header; the file is a valid Bundle holding the thread, its text and its file."""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from playwright.sync_api import expect

from care_messaging.services import attachments
from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from tests.browser import sign_in
from tests.e2e.app_data import actor, app_session, patient_id
from tests.fixtures import files

pytestmark = pytest.mark.e2e
LEE, MARIA = "jordan.lee@demo.care", "maria.garcia@demo.care"


@pytest.fixture
def conversation(app_server) -> tuple[int, str, bytes]:
    topic = f"Export check {uuid.uuid4().hex[:6]}"
    report = files.pdf(f"Report {uuid.uuid4().hex[:8]}")
    with app_session(app_server) as s:
        c, _ = create_conversation(s, reason="Test export", actor=actor(s, MARIA),
                                   patient_id=patient_id(s, MARIA), topic=topic,
                                   body="My results are attached.")
        s.commit()  # each a unit of work of its own, committed before the app reads
        upload = attachments.store_upload(s, actor=actor(s, MARIA), conversation_id=c.id,
                                          filename="results.pdf", data=report)
        s.commit()
        send_message(s, actor=actor(s, MARIA), conversation_id=c.id, body="Here it is.",
                     client_msg_id=uuid.uuid4().hex, attachment_ids=[upload.id])
        s.commit()
        return c.id or 0, topic, report


def test_provider_downloads_the_thread_as_a_valid_bundle(new_context, conversation):
    cid, topic, report = conversation
    lee = new_context(accept_downloads=True).new_page()
    sign_in(lee, LEE)
    expect(lee).to_have_url(re.compile(r"/dashboard/?$"))
    lee.goto(f"/dashboard?c={cid}")
    expect(lee.get_by_role("heading", name=topic)).to_be_visible()
    export = lee.get_by_role("link", name="Export FHIR")
    expect(export).to_be_visible()
    with lee.expect_download() as download_info:
        export.click()
    download = download_info.value
    assert download.suggested_filename == f"conversation-{cid}-fhir.json"
    bundle = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds.count("Communication") == 3 and kinds.count("Binary") == 1
    header = next(e["resource"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "Communication")
    assert header["topic"]["text"] == topic
    text = json.dumps(bundle)
    assert "My results are attached." in text and "Here it is." in text
    binary = next(e["resource"] for e in bundle["entry"]
                  if e["resource"]["resourceType"] == "Binary")
    assert base64.b64decode(binary["data"]) == report
    # The page stayed where it was: a download, not a navigation.
    expect(lee.get_by_role("heading", name=topic)).to_be_visible()


def test_the_patient_portal_offers_no_export(new_context, conversation):
    cid, topic, _ = conversation
    maria = new_context().new_page()
    sign_in(maria, MARIA)
    expect(maria).to_have_url(re.compile(r"/portal/?$"))
    maria.goto(f"/portal?c={cid}")
    expect(maria.get_by_role("heading", name=topic)).to_be_visible()
    expect(maria.get_by_role("link", name="Export FHIR")).to_have_count(0)
    # And the route answers her like a conversation that does not exist.
    response = maria.request.get(f"/api/conversations/{cid}/fhir")
    assert response.status == 404
