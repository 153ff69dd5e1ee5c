"""Who may see what. Every path that takes an id goes through here.

A patient sees their own record; a provider sees the patients whose care team they are on; an
admin sees no PHI at all. Forbidden raises the same NotFoundError as nonexistent, and writes a
"denied" audit row on a session of its own (``audit.record_apart``): it stays although the
caller's work is abandoned, and commits nothing the caller holds.
"""

from __future__ import annotations

from typing import Any, Literal, overload

from sqlalchemy import Select, bindparam, exists, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from care_messaging.models import (
    CareTeamMember,
    Conversation,
    Patient,
    Provider,
    Role,
    User,
    table_of,
)
from care_messaging.services import audit
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import NotFoundError
from care_messaging.services.hot_sql import HotStatement

INVALID_CONVERSATION = "Conversation not found."
INVALID_PATIENT = "Patient not found."


def visible_patient_ids(actor: Actor) -> Select[Any]:  # one column, patient ids
    """A subquery of patient ids the actor may see (empty for admins)."""
    scope, values = visibility_scope(actor)
    return visible_patient_ids_bound(scope).params(**values)


def visibility_scope(actor: Actor) -> tuple[str, dict[str, int]]:
    """``visible_patient_ids`` as a scope name and its bound values, for statements built once
    per scope (``visible_patient_ids_bound``) instead of once per call."""
    if actor.role == Role.PROVIDER and actor.provider_id is not None:
        return "provider", {"provider_id": actor.provider_id}
    if actor.role == Role.PATIENT and actor.patient_id is not None:
        return "patient", {"patient_id": actor.patient_id}
    return "nobody", {}


def visible_patient_ids_bound(scope: str) -> Select[Any]:  # one column, patient ids
    """The subquery of ``visible_patient_ids`` with the actor's id left as a bound parameter."""
    if scope == "provider":
        return select(CareTeamMember.patient_id).where(
            CareTeamMember.provider_id == bindparam("provider_id"))
    if scope == "patient":
        return select(Patient.id).where(Patient.id == bindparam("patient_id"))
    return select(Patient.id).where(Patient.id == -1)


# Statements on every message's path are built once (building them per call cost about as
# much as running them); the values are bound at execution.
# They run on the DBAPI cursor (services/hot_sql.py).
_ON_CARE_TEAM = HotStatement(select(exists().where(
    col(CareTeamMember.patient_id) == bindparam("patient_id"),
    col(CareTeamMember.provider_id) == bindparam("provider_id"),
)))


def can_see_patient(session: Session, actor: Actor, patient_id: int) -> bool:
    if actor.role == Role.PATIENT:
        return actor.patient_id == patient_id
    if actor.role == Role.PROVIDER and actor.provider_id is not None:
        return bool(_ON_CARE_TEAM.execute(session, {"patient_id": patient_id,
                                                    "provider_id": actor.provider_id}
                                          ).scalar())
    return False


def _deny(session: Session, actor: Actor, object_type: str, object_id: object, action: str) -> None:
    # On a session of its own: the caller raises next, and whatever it holds is not ours to
    # commit.
    audit.record_apart(
        session,
        actor=actor,
        action=action,
        outcome=Outcome.DENIED,
        object_type=object_type,
        object_id=str(object_id)[:64],
    )


def access_patient(
    session: Session, *, actor: Actor, patient_id: int, action: str = Action.PATIENT_VIEW
) -> Patient:
    patient = session.get(Patient, patient_id) if isinstance(patient_id, int) else None
    if patient is None or not can_see_patient(session, actor, patient_id):
        _deny(session, actor, "patient", patient_id, action)
        raise NotFoundError(INVALID_PATIENT)
    return patient


_conversation_columns = table_of(Conversation).c
# SQLAlchemy's select: SQLModel's is typed for at most four columns.
_CONVERSATION_FOR_SEND = HotStatement(sa_select(
    _conversation_columns.id, _conversation_columns.patient_id, _conversation_columns.status,
    _conversation_columns.first_provider_reply_at, _conversation_columns.provider_user_id,
).where(_conversation_columns.id == bindparam("b_id")))


@overload
def access_conversation(session: Session, *, actor: Actor, conversation_id: int,
                        action: str = ..., for_send: Literal[False] = ...) -> Conversation: ...
@overload
def access_conversation(session: Session, *, actor: Actor, conversation_id: int,
                        action: str = ..., for_send: Literal[True]) -> Any: ...
def access_conversation(
    session: Session, *, actor: Actor, conversation_id: int, action: str = Action.ACCESS,
    for_send: bool = False,
) -> Any:
    """Load a conversation the actor may see, or raise NotFoundError (audited as denied).

    ``for_send``: the same check and the same denial, but only the columns a send needs, as a
    row rather than an ORM object (it runs with every message).
    """
    found: Any  # an ORM Conversation, or a row of the send's columns
    if not isinstance(conversation_id, int):
        found = None
    elif for_send:
        found = _CONVERSATION_FOR_SEND.execute(session, {"b_id": conversation_id}).first()
    else:
        found = session.get(Conversation, conversation_id)
    if found is None or not can_see_patient(session, actor, found.patient_id):
        _deny(session, actor, "conversation", conversation_id, action)
        raise NotFoundError(INVALID_CONVERSATION)
    return found


_PARTICIPANTS = HotStatement(union_all(
    select(Provider.user_id)
    .join(CareTeamMember, col(CareTeamMember.provider_id) == Provider.id)
    .join(User, col(User.id) == Provider.user_id)
    .where(CareTeamMember.patient_id == bindparam("patient_id"), User.is_active),
    select(Patient.user_id).where(Patient.id == bindparam("patient_id")),
))


def participant_user_ids(session: Session, patient_id: int) -> list[int]:
    """The patient's user and every active provider user on their care team (one query: it
    runs with every message sent)."""
    return _PARTICIPANTS.execute(session, {"patient_id": patient_id}).scalars()
