"""Who may see a patient is decided once (``access.visibility_scope``): the raw SQL the
message search runs must select exactly the patients ``access.visible_patient_ids`` does."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import select

from care_messaging.models import Patient
from care_messaging.services import search
from care_messaging.services.access import can_see_patient, visible_patient_ids
from care_messaging.services.conversations import create_conversation
from tests.factories import actor_of, clinic, make_admin


def test_search_scope_selects_exactly_the_visible_patients(session):
    people = clinic(session)
    for who, patient in (("maria", "maria_patient"), ("james", "james_patient")):
        create_conversation(session, reason="Test", actor=people[who],
                            patient_id=people[patient].id, topic="Topic", body="Hello")
    session.commit()
    admin = actor_of(session, make_admin(session))
    all_patients = set(session.exec(select(Patient.id)).all())
    for actor in (people["lee"], people["patel"], people["outsider"], people["maria"],
                  people["james"]):
        rule = set(session.exec(select(Patient.id).where(
            Patient.id.in_(visible_patient_ids(actor)))).all())
        scope, params = search._scope(actor)
        sql = set(session.execute(text(
            f"SELECT DISTINCT c.patient_id FROM conversations AS c WHERE {scope}"), params
        ).scalars().all())
        assert sql == rule and rule  # every actor here sees someone
        assert rule == {p for p in all_patients if can_see_patient(session, actor, p)}
    assert search._scope(admin)[0] == search.SCOPE_SQL["nobody"]
