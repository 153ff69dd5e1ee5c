"""Marking a provider as clinic lead: only the admin may, only a provider can be one, every
change (and refusal) is audited, and the session check carries the flag for the navigation."""

from __future__ import annotations

import pytest
from sqlmodel import select

from care_messaging.models import AuditEvent, Provider
from care_messaging.services import auth, response_times, users
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import NotFoundError, ValidationError
from tests.factories import PASSWORD, actor_of, clinic, make_admin


def _lead_audits(session) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(
        AuditEvent.action == Action.CLINIC_LEAD_CHANGE).order_by(AuditEvent.id)).all())


def _is_lead(session, actor) -> bool:
    session.expire_all()
    return session.get(Provider, actor.provider_id).is_lead


def test_the_admin_marks_and_unmarks_a_provider_and_it_is_audited(session):
    people = clinic(session)
    admin = actor_of(session, make_admin(session))
    patel = people["patel"]
    with pytest.raises(NotFoundError):
        response_times.compute(session, actor=patel)
    session.rollback()
    users.set_clinic_lead(session, actor=admin, user_id=patel.user_id, lead=True)
    session.commit()
    assert _is_lead(session, patel)
    assert response_times.compute(session, actor=patel).weeks  # the page opens now
    row = next(u for u in users.list_users(session, actor=admin) if u.id == patel.user_id)
    assert row.lead
    users.set_clinic_lead(session, actor=admin, user_id=patel.user_id, lead=False)
    session.commit()
    assert not _is_lead(session, patel)
    with pytest.raises(NotFoundError):
        response_times.compute(session, actor=patel)
    session.rollback()
    rows = _lead_audits(session)
    assert [(r.actor_user_id, r.outcome, r.object_id, r.detail) for r in rows] == [
        (admin.user_id, Outcome.SUCCESS, str(patel.user_id), "lead"),
        (admin.user_id, Outcome.SUCCESS, str(patel.user_id), "not lead")]


@pytest.mark.parametrize("who", ["lee", "patel", "maria"])
def test_only_the_admin_may_set_it(session, who):
    people = clinic(session)
    with pytest.raises(NotFoundError):
        users.set_clinic_lead(session, actor=people[who], user_id=people["patel"].user_id,
                              lead=True)
    session.rollback()
    assert not _is_lead(session, people["patel"])
    with pytest.raises(NotFoundError):  # not even themselves
        users.set_clinic_lead(session, actor=people[who], user_id=people[who].user_id,
                              lead=True)
    session.rollback()
    assert not any(u.lead for u in users.list_users(session, actor=actor_of(
        session, make_admin(session))))


def test_a_patient_or_an_admin_cannot_be_a_lead_and_the_refusal_is_audited(session):
    people = clinic(session)
    admin = actor_of(session, make_admin(session))
    for target in (people["maria"].user_id, admin.user_id):
        with pytest.raises(ValidationError, match="care team members"):
            users.set_clinic_lead(session, actor=admin, user_id=target, lead=True)
        session.rollback()
    assert [(r.outcome, r.object_id, r.detail) for r in _lead_audits(session)] == [
        (Outcome.REJECTED, str(people["maria"].user_id), "not a provider"),
        (Outcome.REJECTED, str(admin.user_id), "not a provider")]
    with pytest.raises(NotFoundError):
        users.set_clinic_lead(session, actor=admin, user_id=987654, lead=True)
    session.rollback()


def test_the_session_check_carries_the_flag_for_the_navigation(session):
    people = clinic(session)
    admin = actor_of(session, make_admin(session))
    result = auth.login(session, email=people["patel"].email, password=PASSWORD)
    session.commit()
    token, _role = auth.exchange_handoff(session, ticket=result.ticket)
    session.commit()
    assert not auth.resolve_session(session, token=token).is_lead
    users.set_clinic_lead(session, actor=admin, user_id=people["patel"].user_id, lead=True)
    session.commit()
    # The same session, next event: no new sign-in needed for the link to appear.
    assert auth.resolve_session(session, token=token).is_lead
