"""Email notifications from the running app, through a real SMTP server on localhost.

A provider writes to a patient who has no tab open; the app's own job runner emails the
patient once after the (shortened) delay, with nothing in it but "you have a new secure
message" and a link that signs in and opens that conversation. The messages are stored
through the services against the app's database (as the CLI or an API would): the job is
scheduled by the send's own transaction, so no page or tab takes part.
"""

from __future__ import annotations

import re
import time
import uuid

from playwright.sync_api import expect
from sqlmodel import Session, select

from care_messaging.models import CareTeamMember, Patient, Provider, User
from care_messaging.services.actors import actor_for_user
from care_messaging.services.attachments import store_upload
from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from care_messaging.services.receipts import mark_read
from tests.browser import DEMO_PASSWORD, NOTIFY_DELAY_SECONDS, AppServer
from tests.e2e.app_data import app_session
from tests.fixtures.files import png
from tests.smtp_capture import SmtpCapture

LINK = re.compile(r"(http://\S+/login\?next=\S+)")


def _people(session: Session, patient_email: str):
    patient_user = session.exec(select(User).where(User.email == patient_email)).one()
    patient = session.exec(select(Patient).where(Patient.user_id == patient_user.id)).one()
    team = session.exec(
        select(User).join(Provider, Provider.user_id == User.id)
        .join(CareTeamMember, CareTeamMember.provider_id == Provider.id)
        .where(CareTeamMember.patient_id == patient.id)).all()
    lee = next(u for u in team if u.email == "jordan.lee@demo.care")
    return (actor_for_user(session, patient_user), patient,
            actor_for_user(session, lee), [u.display_name for u in team])


def _wait_quiet(mail: SmtpCapture, address: str, seconds: float) -> int:
    time.sleep(seconds)
    return len(mail.to(address))


def test_provider_message_emails_an_absent_patient_once_without_phi(
        app_server: AppServer, mail_server: SmtpCapture, new_context):
    email = "robert.johnson@demo.care"
    topic = f"Knee x-ray follow-up {uuid.uuid4().hex[:6]}"
    attachment = "robert-knee-xray.png"
    texts = ["Here is the x-ray from Tuesday.", "Your x-ray shows mild osteoarthritis.",
             "Please also book physiotherapy."]
    with app_session(app_server) as s:
        robert, patient, lee, team_names = _people(s, email)
        conversation, _ = create_conversation(s, reason="Test follow-up", actor=robert, patient_id=None, topic=topic,
                                              body="Question about my knee")
        s.commit()
        upload = store_upload(s, actor=robert, conversation_id=conversation.id,
                              filename=attachment, data=png())
        s.commit()
        send_message(s, actor=robert, conversation_id=conversation.id, body=texts[0],
                     client_msg_id=uuid.uuid4().hex, attachment_ids=[upload.id])
        s.commit()
        # The care team answers twice within one window; Robert has no tab open.
        for text in texts[1:]:
            send_message(s, actor=lee, conversation_id=conversation.id, body=text,
                         client_msg_id=uuid.uuid4().hex)
            s.commit()
        conversation_id = conversation.id

    assert mail_server.to(email) == []  # not before the delay
    mail_server.wait_for(1, email, timeout=NOTIFY_DELAY_SECONDS + 20)
    # A second message within the window sent no second email, even after another window.
    assert _wait_quiet(mail_server, email, NOTIFY_DELAY_SECONDS + 2) == 1
    [received] = mail_server.to(email)
    words = [patient.first_name, patient.last_name, patient.mrn, topic, attachment,
             *texts, *team_names, "Lee", "Patel", "knee", "x-ray"]
    for word in words:
        assert word.lower() not in (received.subject + received.body).lower(), word
    assert received.subject == "You have a new secure message"

    link = LINK.search(received.body).group(1)
    page = new_context().new_page()
    page.goto(link)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"/portal/?\?c={conversation_id}$"))
    expect(page.get_by_text(texts[2])).to_be_visible()
    expect(page.get_by_text(topic).first).to_be_visible()


def test_a_message_read_before_the_delay_sends_no_email(
        app_server: AppServer, mail_server: SmtpCapture):
    email = "mei.wong@demo.care"
    with app_session(app_server) as s:
        mei, patient, lee, _ = _people(s, email)
        conversation, _ = create_conversation(s, reason="Test follow-up", actor=lee, patient_id=patient.id,
                                              topic="Blood test", body="Your results are in.")
        s.commit()
        # Mei reads it at once (as her portal does when she opens it).
        mark_read(s, actor=mei, conversation=conversation)
        s.commit()
    assert _wait_quiet(mail_server, email, NOTIFY_DELAY_SECONDS + 3) == 0
