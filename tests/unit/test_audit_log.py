"""Audit browsing, CSV export, and the patient's "who viewed this" list."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlmodel import select

from care_messaging.models import AuditEvent
from care_messaging.services import audit_log
from care_messaging.services import conversations as conv
from care_messaging.services.access import access_conversation
from care_messaging.services.audit_log import AuditFilter
from care_messaging.services.errors import NotFoundError
from tests.factories import actor_of, clinic, make_admin


@pytest.fixture
def world(session):
    people = clinic(session)
    admin = actor_of(session, make_admin(session))
    conversation, _ = conv.create_conversation(session, actor=people["maria"], patient_id=None,
                                               reason="Test", topic="Knee", body="=HYPERLINK(\"x\")")
    for who in ("lee", "patel"):
        audit_log.record_conversation_open(
            session, actor=people[who],
            conversation=access_conversation(session, actor=people[who],
                                             conversation_id=conversation.id))
    return people, admin, conversation.id


def test_patient_sees_who_on_the_team_opened_it(session, world):
    people, _admin, cid = world
    viewers = audit_log.conversation_viewers(session, actor=people["maria"], conversation_id=cid)
    assert {v.name for v in viewers} == {"Dr. Lee", "Dr. Patel"}
    for other in ("james", "outsider", "lee"):
        with pytest.raises(NotFoundError):
            audit_log.conversation_viewers(session, actor=people[other], conversation_id=cid)


def test_admin_filters_by_user_patient_action_and_date(session, world):
    people, admin, _cid = world
    rows, total = audit_log.search(session, actor=admin,
                                   flt=AuditFilter(action="conversation_open"))
    assert total == 2 and {r.actor_user_id for r in rows} == {people["lee"].user_id,
                                                               people["patel"].user_id}
    rows, total = audit_log.search(session, actor=admin, flt=AuditFilter(user=people["lee"].email))
    assert total >= 1 and all(r.actor_user_id == people["lee"].user_id for r in rows)
    rows, total = audit_log.search(session, actor=admin, flt=AuditFilter(patient="P-100200"))
    assert total >= 3 and all(r.patient_id == people["maria_patient"].id for r in rows)
    _, none = audit_log.search(session, actor=admin, flt=AuditFilter(date_to=date(2000, 1, 1)))
    assert none == 0
    with pytest.raises(NotFoundError):
        audit_log.search(session, actor=people["lee"], flt=AuditFilter())


def test_csv_export_is_audited_and_formula_safe(session, world):
    _people, admin, _cid = world
    text = audit_log.export_csv(session, actor=admin, flt=AuditFilter(patient="P-100200"))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == audit_log.CSV_COLUMNS and len(rows) >= 4
    assert all(not cell.startswith(("=", "+", "@")) for row in rows[1:] for cell in row)
    exports = session.exec(select(AuditEvent).where(AuditEvent.action == "audit_export")).all()
    assert len(exports) == 1 and exports[0].actor_user_id == admin.user_id
