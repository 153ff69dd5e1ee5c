"""Email choices on the account page: patients and providers save their own, audited; without
a session nothing is saved; the choice is what the notification jobs read."""

from __future__ import annotations

from sqlmodel import select

from care_messaging.models import AuditEvent, NotificationPreference
from care_messaging.pages.account import AccountState
from care_messaging.services import notifications
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, make_state, redirect_path, sign_in_token


async def test_patient_turns_email_off_and_on(session):
    people = clinic(session)
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    state = make_state(AccountState, token=token, path="/account")
    assert await call(state, "load") == []  # patients may use the page
    assert state.email_on and not state.is_provider
    await call(state, "save_notifications", {"digest_on": "on"})  # the box left unticked
    session.expire_all()
    saved = notifications.preferences(session, people["maria"].user_id)
    session.commit()
    assert (saved.email_on, saved.digest_on) == (False, False)  # no digest for patients
    assert state.email_on is False
    await call(state, "save_notifications", {"email_on": "on"})
    session.expire_all()
    assert notifications.preferences(session, people["maria"].user_id).email_on
    rows = session.exec(select(AuditEvent).where(AuditEvent.action == "preferences_change")).all()
    assert [r.actor_user_id for r in rows] == [people["maria"].user_id] * 2


async def test_provider_digest_choice(session):
    people = clinic(session)
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(AccountState, token=token, path="/account")
    await call(state, "load")
    assert state.is_provider
    await call(state, "save_notifications", {"email_on": "on"})
    session.expire_all()
    saved = notifications.preferences(session, people["lee"].user_id)
    session.commit()
    assert (saved.email_on, saved.digest_on) == (True, False)


async def test_without_a_session_nothing_is_saved(session):
    clinic(session)
    state = make_state(AccountState)
    events = await call(state, "save_notifications", {})
    assert redirect_path(events).startswith("/login")
    assert session.exec(select(NotificationPreference)).all() == []
