"""The New Message patient picker's server-side search: scoped to the provider's care teams,
paged, namesakes told apart by ID and date of birth, fast on a panel of 2,000 patients."""

from __future__ import annotations

import time
from datetime import date

import pytest
from sqlalchemy import insert
from sqlmodel import select

from care_messaging.models import CareTeamMember, Patient, Provider, Role, User
from care_messaging.pages.dashboard_state import matches_label
from care_messaging.presenters.provider import patient_option
from care_messaging.services.patients import PICKER_LIMIT, parse_birth_date, search_patients
from tests.factories import add_to_team, clinic, make_patient

PANEL = 2_000


def test_only_the_providers_own_patients_are_searched(session):
    p = clinic(session)
    lee = search_patients(session, actor=p["lee"])
    assert [m.name for m in lee.rows] == ["Maria Garcia"] and lee.total == 1
    assert search_patients(session, actor=p["lee"], query="james").rows == []
    assert search_patients(session, actor=p["lee"], query="P-100207").total == 0
    assert [m.mrn for m in search_patients(session, actor=p["outsider"]).rows] == ["P-100207"]
    # Patients and admins (no care team) find nobody, whatever they type.
    assert search_patients(session, actor=p["maria"], query="a").total == 0


def test_search_by_name_either_order_patient_id_and_birth_date(session):
    p = clinic(session)
    maria = p["maria_patient"]
    maria.date_of_birth = date(1950, 3, 4)
    session.add(maria)
    session.commit()
    for query in ("maria", "GARCIA", "maria garcia", "garcia maria", "Garcia, Maria",
                  "  maria   garcia ", "100200", "p-1002", "1950-03-04", "03/04/1950"):
        assert [m.id for m in search_patients(session, actor=p["lee"], query=query).rows] == [
            maria.id], query
    for query in ("mario", "1950-03-05", "%", "_aria", "garcia james"):
        assert search_patients(session, actor=p["lee"], query=query).total == 0, query
    assert parse_birth_date("1950-02-30") is None and parse_birth_date("maria") is None


def test_namesakes_are_told_apart_by_id_and_date_of_birth(session):
    p = clinic(session)
    _, twin = make_patient(session, "Maria", "Garcia", mrn="P-555001")
    twin.date_of_birth = date(1988, 11, 2)
    session.add(twin)
    session.commit()
    lee_provider = session.exec(select(Provider).where(
        Provider.id == p["lee"].provider_id)).one()
    add_to_team(session, twin, lee_provider)
    found = search_patients(session, actor=p["lee"], query="maria garcia")
    assert found.total == 2
    labels = [patient_option(m)["label"] for m in found.rows]
    assert len(set(labels)) == 2
    assert "Maria Garcia · ID P-555001 · Born Nov 2, 1988" in labels
    assert "Maria Garcia · ID P-100200 · Date of birth not recorded" in labels


def _panel(session, provider_id: int, size: int, *, prefix: str) -> None:
    """``size`` patients on one provider's care team, inserted in bulk (users, patients and
    team rows as the app stores them)."""
    first_names = ["Ana", "Ben", "Chloe", "Dev", "Eva", "Farid", "Gia", "Hugo", "Ines", "Jon"]
    base = session.exec(select(User.id).order_by(User.id.desc())).first() or 0
    session.execute(insert(User), [
        {"id": base + 1 + i, "email": f"{prefix}{i}@panel.test", "display_name": f"P {i}",
         "role": Role.PATIENT, "password_hash": "x"} for i in range(size)])
    session.execute(insert(Patient), [
        {"user_id": base + 1 + i, "mrn": f"{prefix.upper()}-{i:05d}",
         "first_name": first_names[i % 10], "last_name": f"Panel{i:04d}",
         "date_of_birth": date(1940 + i % 60, 1 + i % 12, 1 + i % 28)} for i in range(size)])
    ids = session.exec(select(Patient.id).where(Patient.mrn.like(f"{prefix.upper()}-%"))).all()
    session.execute(insert(CareTeamMember), [
        {"patient_id": pid, "provider_id": provider_id} for pid in ids])
    session.commit()


def test_a_panel_of_2000_patients_is_paged_and_fast(session):
    p = clinic(session)
    _panel(session, p["lee"].provider_id, PANEL, prefix="lee")
    _panel(session, p["outsider"].provider_id, 500, prefix="out")  # never in Lee's results

    def timed(query: str):
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            found = search_patients(session, actor=p["lee"], query=query)
            best = min(best, time.perf_counter() - started)
        return found, best

    everyone, t_all = timed("")
    assert everyone.total == PANEL + 1 and len(everyone.rows) == PICKER_LIMIT
    assert matches_label(len(everyone.rows), everyone.total, False) == (
        "Showing 20 of 2,001 patients: type more to narrow the list.")
    chloes, t_name = timed("chloe")
    assert chloes.total == PANEL // 10 and len(chloes.rows) == PICKER_LIMIT
    assert all(m.name.startswith("Chloe ") for m in chloes.rows)
    one, t_id = timed("LEE-01234")
    assert [m.mrn for m in one.rows] == ["LEE-01234"]
    none, _ = timed("OUT-00001")
    assert none.total == 0
    # Generous for a shared 2-core machine; measured at a few milliseconds each.
    assert max(t_all, t_name, t_id) < 0.05, (t_all, t_name, t_id)


@pytest.mark.parametrize(("shown", "total", "searching", "text"), [
    (0, 0, True, "No patient on your care teams matches."),
    (0, 0, False, "You have no patients on your care teams yet."),
    (1, 1, True, "1 patient"),
    (12, 12, False, "12 patients"),
])
def test_matches_label(shown, total, searching, text):
    assert matches_label(shown, total, searching) == text
