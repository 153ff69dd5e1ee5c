"""Who may see what. Every path that takes an id goes through here.

A patient sees their own record; a provider sees the patients whose care team they are on; an
admin sees no PHI at all. Forbidden raises the same NotFoundError as nonexistent, and writes a
"denied" audit row on a session of its own (``audit.record_apart``): it stays although the
caller's work is abandoned, and commits nothing the caller holds.
"""

from __future__ import annotations

from typing import Any

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
from care_messaging.services.hot_sql import HotStatement, together

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
def _on_care_team(patient_id: Any) -> Any:
    """Whether the provider (``provider_id``) is on the care team of ``patient_id``."""
    return select(exists().where(
        col(CareTeamMember.patient_id) == patient_id,
        col(CareTeamMember.provider_id) == bindparam("provider_id"),
    ))


_ON_CARE_TEAM = HotStatement(_on_care_team(bindparam("patient_id")))


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


def access_conversation(
    session: Session, *, actor: Actor, conversation_id: int, action: str = Action.ACCESS,
) -> Conversation:
    """Load a conversation the actor may see, or raise NotFoundError (audited as denied)."""
    found = (session.get(Conversation, conversation_id)
             if isinstance(conversation_id, int) else None)
    checked: Conversation = _checked(session, actor, conversation_id, action, found)
    return checked


def _checked(session: Session, actor: Actor, conversation_id: object, action: str,
             found: Any, on_care_team: bool | None = None) -> Any:
    """The one check every conversation access makes: it exists and the actor may see its
    patient; otherwise a denial is audited and it is not found. ``on_care_team``: a
    provider's care-team membership already read with the row (``access_for_send``)."""
    visible = (found is not None and (
        can_see_patient(session, actor, found.patient_id) if on_care_team is None
        else on_care_team))
    if not visible:
        _deny(session, actor, "conversation", conversation_id, action)
        raise NotFoundError(INVALID_CONVERSATION)
    return found


def _participants(patient_id: Any) -> Any:
    """The patient's user and every active provider user on their care team."""
    return union_all(
        select(Provider.user_id)
        .join(CareTeamMember, col(CareTeamMember.provider_id) == Provider.id)
        .join(User, col(User.id) == Provider.user_id)
        .where(CareTeamMember.patient_id == patient_id, User.is_active),
        select(Patient.user_id).where(Patient.id == patient_id),
    )


_PARTICIPANTS = HotStatement(_participants(bindparam("patient_id")))
_PARTICIPANTS_OF_CONVERSATION = HotStatement(_participants(
    sa_select(_conversation_columns.patient_id)
    .where(_conversation_columns.id == bindparam("b_id")).scalar_subquery()))


_PROVIDER_ON_CARE_TEAM_OF_CONVERSATION = HotStatement(_on_care_team(
    sa_select(_conversation_columns.patient_id)
    .where(_conversation_columns.id == bindparam("b_id")).scalar_subquery()))


def access_for_send(session: Session, *, actor: Actor, conversation_id: int,
                    read: HotStatement) -> tuple[Any, tuple[int, ...]]:
    """``access_conversation``'s check for a send, and who takes part (the live event's
    audience). ``read`` is the send's own read of the conversation row (its columns, its
    lock; a ``b_id`` parameter, ``patient_id`` among its columns): it travels in one round
    trip with the participants, a provider's care-team membership and the transaction's
    start on PostgreSQL (they run with every message). Returns the row and the participants'
    user ids."""
    if not isinstance(conversation_id, int):
        return _checked(session, actor, conversation_id, Action.ACCESS, None), ()
    reads: list[tuple[HotStatement, dict[str, Any]]] = [
        (read, {"b_id": conversation_id}),
        (_PARTICIPANTS_OF_CONVERSATION, {"b_id": conversation_id})]
    provider = actor.role == Role.PROVIDER and actor.provider_id is not None
    if provider:
        reads.append((_PROVIDER_ON_CARE_TEAM_OF_CONVERSATION,
                      {"b_id": conversation_id, "provider_id": actor.provider_id}))
    rows, people, *team = together(session, *reads)
    found = _checked(session, actor, conversation_id, Action.ACCESS, rows[0] if rows else None,
                     on_care_team=bool(team[0][0][0]) if provider else None)
    return found, tuple(row[0] for row in people)


def participant_user_ids(session: Session, patient_id: int) -> list[int]:
    """The patient's user and every active provider user on their care team (one query: it
    runs with every message sent)."""
    return _PARTICIPANTS.execute(session, {"patient_id": patient_id}).scalars()