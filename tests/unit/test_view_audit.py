"""Every view of PHI writes an audit row (issue 16, item 5): a patient's profile, each list the
user loads or refreshes (one row per list, not per row), the dashboard's server-rendered first
rows, failed two-step codes at sign-in, discarded uploads and the admin's audit searches."""

from __future__ import annotations

import pyotp
import pytest
from sqlmodel import col, select

from care_messaging import crypto, realtime
from care_messaging.models import AuditEvent, User
from care_messaging.pages.dashboard import DashboardState
from care_messaging.pages.patient_profile import PatientProfileState
from care_messaging.pages.portal import PortalState
from care_messaging.services import attachments, audit_log, auth, conversation_list
from care_messaging.services import conversations as conv
from care_messaging.services.actors import actor_for_user
from care_messaging.services.audit import Action
from care_messaging.services.audit_log import AuditFilter
from care_messaging.services.errors import AuthenticationError, NotFoundError
from care_messaging.web.first_rows import first_rows_for
from tests.factories import PASSWORD, clinic, make_admin
from tests.fixtures import files
from tests.state.helpers import call, make_state, sign_in_token


async def _no_registry(**_) -> None:
    return None


def _rows(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)
                             .order_by(col(AuditEvent.id))).all())


@pytest.fixture
def clinic_data(session):
    people = clinic(session)
    for topic in ("Refill", "Dizziness"):
        conv.create_conversation(session, reason="Test follow-up", actor=people["maria"], patient_id=None, topic=topic,
                                 body="hello")
        session.commit()
    return people


async def test_opening_a_patient_profile_is_audited(session, clinic_data):
    people = clinic_data
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    patient_id = people["maria_patient"].id
    state = make_state(PatientProfileState, token=token, path="/patients",
                       query=f"id={patient_id}")
    await call(state, "load")
    assert state.patient["name"] == "Maria Garcia"
    [row] = _rows(session, Action.PATIENT_VIEW)
    assert (row.actor_user_id, row.patient_id, row.outcome) == (
        people["lee"].user_id, patient_id, "success")
    assert row.detail == "profile conversations=2"


async def test_a_list_load_and_each_refresh_is_one_row_a_live_update_none(session, clinic_data,
                                                                         monkeypatch):
    monkeypatch.setattr(realtime, "register", _no_registry)
    people = clinic_data
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard")
    await call(state, "load")
    [first] = _rows(session, Action.LIST_VIEW)
    maria = people["maria_patient"].id
    assert first.object_id == "dashboard" and first.actor_user_id == people["lee"].user_id
    assert first.detail == f"dashboard rows=2 filter=all patients={maria}"  # not one per row
    await call(state, "set_search", "Maria")
    await call(state, "set_filter", "unread")
    rows = _rows(session, Action.LIST_VIEW)
    assert len(rows) == 3
    assert "search=yes" in rows[1].detail and "Maria" not in rows[1].detail  # no search words
    assert "filter=unread" in rows[2].detail
    # A live update moving the loaded list is not a new view (the message is audited itself).
    await state._after_live_events([realtime.LiveEvent(kind="conversation", patient_id=maria)])
    assert len(_rows(session, Action.LIST_VIEW)) == 3


async def test_the_patients_own_list_is_audited(session, clinic_data, monkeypatch):
    monkeypatch.setattr(realtime, "register", _no_registry)
    people = clinic_data
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    await call(make_state(PortalState, token=token, path="/portal"), "load")
    [row] = _rows(session, Action.LIST_VIEW)
    assert row.object_id == "portal" and row.patient_id == people["maria_patient"].id


def test_the_dashboards_server_rendered_first_rows_are_audited(session, clinic_data):
    people = clinic_data
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    assert "Maria Garcia" in first_rows_for(token, "203.0.113.9", "")
    [row] = _rows(session, Action.LIST_VIEW)
    assert row.object_id == "dashboard_first_rows" and row.client_ip == "203.0.113.9"
    assert first_rows_for(None, "203.0.113.9", "") == ""  # no session: nothing, no row
    assert len(_rows(session, Action.LIST_VIEW)) == 1


def test_a_wrong_two_step_code_at_sign_in_is_audited(session, clinic_data):
    people = clinic_data
    lee = session.get(User, people["lee"].user_id)
    secret = pyotp.random_base32()
    lee.totp_secret_ct, lee.totp_key_id = crypto.encrypt_text(secret, aad=f"totp:{lee.id}")
    lee.totp_enabled = True
    session.add(lee)
    session.commit()
    wrong = str((int(pyotp.TOTP(secret).now()) + 500_000) % 1_000_000).zfill(6)
    with pytest.raises(AuthenticationError):
        auth.login(session, email=lee.email, password=PASSWORD, totp_code=wrong,
                   client_ip="203.0.113.5")
        session.commit()
    [row] = [r for r in _rows(session, Action.LOGIN) if r.outcome == "failure"]
    assert row.actor_user_id == lee.id and row.detail == "bad totp code"
    assert wrong not in (row.detail + row.object_id)  # the code itself is not kept


def test_discarding_an_upload_is_audited_and_so_is_a_refused_discard(session, clinic_data):
    people = clinic_data
    conversation = conversation_list.list_conversations(session, actor=people["maria"]).rows[0]
    session.commit()
    upload = attachments.store_upload(session, actor=people["maria"],
                                      conversation_id=conversation.id, filename="a.png",
                                      data=files.png())
    session.commit()
    with pytest.raises(NotFoundError):  # someone else's upload: refused, recorded
        attachments.discard_upload(session, actor=people["lee"], attachment_id=upload.id)
        session.commit()
    attachments.discard_upload(session, actor=people["maria"], attachment_id=upload.id)
    session.commit()
    rows = _rows(session, Action.ATTACHMENT_DISCARD)
    assert [(r.actor_user_id, r.outcome) for r in rows] == [
        (people["lee"].user_id, "denied"), (people["maria"].user_id, "success")]
    assert rows[1].object_id == str(upload.id)
    assert rows[1].patient_id == people["maria_patient"].id


def test_an_admins_audit_search_is_audited(session, clinic_data):
    admin = actor_for_user(session, make_admin(session))
    session.commit()
    audit_log.search(session, actor=admin, flt=AuditFilter(patient="P-100200",
                                                           action="message_send"))
    session.commit()
    audit_log.search(session, actor=admin, flt=AuditFilter(), offset=50)
    session.commit()
    rows = _rows(session, Action.AUDIT_SEARCH)
    assert [r.actor_user_id for r in rows] == [admin.user_id, admin.user_id]
    assert rows[0].detail.startswith("search patient=P-100200 action=message_send rows=")
    assert rows[1].detail.startswith("search offset=50 rows=")
