"""The care team's own view of a conversation: what only its providers may do or see.

Assignment and staff-only notes are for the providers on the patient's care team. A patient
(even on their own conversation), an admin or a provider of another team gets the same
``NotFoundError`` as for a conversation that does not exist, and a "denied" audit row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from care_messaging.models import CareTeamMember, Conversation, Provider, Role, User
from care_messaging.services import audit
from care_messaging.services.access import INVALID_CONVERSATION, access_conversation
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Outcome
from care_messaging.services.errors import NotFoundError


@dataclass(frozen=True)
class TeamMember:
    user_id: int
    name: str


def access_team_conversation(session: Session, *, actor: Actor, conversation_id: int,
                             action: str) -> Conversation:
    """A conversation the actor may see *as a member of its care team* (a provider), or
    NotFoundError (audited as denied): a patient's own conversation is no exception."""
    conversation = access_conversation(session, actor=actor, conversation_id=conversation_id,
                                       action=action)
    if actor.role != Role.PROVIDER:
        audit.record_apart(session, actor=actor, action=action, outcome=Outcome.DENIED,
                           object_type="conversation", object_id=str(conversation_id)[:64])
        raise NotFoundError(INVALID_CONVERSATION)
    return conversation


def team_members(session: Session, patient_id: int) -> list[TeamMember]:
    """The active providers on a patient's care team, by name (then id: a stable order)."""
    rows = session.exec(
        select(User.id, User.display_name)
        .join(Provider, col(Provider.user_id) == User.id)
        .join(CareTeamMember, col(CareTeamMember.provider_id) == Provider.id)
        .where(CareTeamMember.patient_id == patient_id, col(User.is_active),
               User.role == Role.PROVIDER)
        .order_by(col(User.display_name), col(User.id))
    ).all()
    return [TeamMember(user_id=user_id or 0, name=name) for user_id, name in rows]


def team_user_ids(session: Session, patient_id: int) -> tuple[int, ...]:
    """Who hears of a staff-only change: the team's providers, never the patient."""
    return tuple(m.user_id for m in team_members(session, patient_id))
