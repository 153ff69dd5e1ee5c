"""Build test data through the real models (and the real password hasher, once)."""

from __future__ import annotations

import functools
import itertools

from sqlmodel import Session

from care_messaging.models import CareTeamMember, Patient, Provider, Role, User
from care_messaging.services.actors import Actor, actor_for_user
from care_messaging.services.passwords import hash_password

PASSWORD = "Correct-Horse-42"
_counter = itertools.count(1)


@functools.cache
def _hash() -> str:
    return hash_password(PASSWORD)


def make_user(session: Session, *, role: str, name: str, email: str | None = None) -> User:
    n = next(_counter)
    user = User(
        email=email or f"{role}{n}@test.care",
        display_name=name,
        role=role,
        password_hash=_hash(),
    )
    session.add(user)
    session.flush()
    return user


def make_provider(session: Session, name: str = "Dr. Test") -> tuple[User, Provider]:
    user = make_user(session, role=Role.PROVIDER, name=name)
    provider = Provider(user_id=user.id, title="Dr.")
    session.add(provider)
    session.commit()
    return user, provider


def make_patient(
    session: Session, first: str = "Pat", last: str = "Ient", mrn: str | None = None
) -> tuple[User, Patient]:
    user = make_user(session, role=Role.PATIENT, name=f"{first} {last}")
    patient = Patient(
        user_id=user.id, mrn=mrn or f"P-{900000 + user.id}", first_name=first, last_name=last
    )
    session.add(patient)
    session.commit()
    return user, patient


def make_admin(session: Session) -> User:
    user = make_user(session, role=Role.ADMIN, name="Admin")
    session.commit()
    return user


def add_to_team(session: Session, patient: Patient, provider: Provider) -> None:
    session.add(CareTeamMember(patient_id=patient.id, provider_id=provider.id))
    session.commit()


def actor_of(session: Session, user: User) -> Actor:
    return actor_for_user(session, user)


def clinic(session: Session) -> dict:
    """Two providers on one patient's team, one provider outside it, and a second patient."""
    lee_user, lee = make_provider(session, "Dr. Lee")
    patel_user, patel = make_provider(session, "Dr. Patel")
    out_user, outsider = make_provider(session, "Dr. Outside")
    maria_user, maria = make_patient(session, "Maria", "Garcia", mrn="P-100200")
    james_user, james = make_patient(session, "James", "Smith", mrn="P-100207")
    add_to_team(session, maria, lee)
    add_to_team(session, maria, patel)
    add_to_team(session, james, outsider)
    return {
        "lee": actor_of(session, lee_user),
        "patel": actor_of(session, patel_user),
        "outsider": actor_of(session, out_user),
        "maria": actor_of(session, maria_user),
        "james": actor_of(session, james_user),
        "maria_patient": maria,
        "james_patient": james,
    }


def clinic_with_two_threads(session: Session) -> tuple[dict, int, int]:
    """``clinic`` plus a conversation of Maria's (on Lee's team) and one of James's, committed:
    ``(people, maria's conversation id, james's conversation id)``."""
    from care_messaging.services.conversations import create_conversation

    people = clinic(session)
    mine, _ = create_conversation(session, actor=people["maria"], patient_id=None,
                                  reason="Test", topic="Refill", body="Out of pills")
    other, _ = create_conversation(session, actor=people["james"], patient_id=None,
                                   reason="Test", topic="Rash", body="Private")
    session.commit()  # the caller's unit of work (services never commit)
    return people, mine.id or 0, other.id or 0
