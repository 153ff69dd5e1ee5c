"""Who is answering: a provider takes a conversation, or assigns it to a colleague on the
patient's care team; reassigning and releasing are the same operation.

Every change is audited (who, from whom to whom, by user id) and recorded as a domain event
for the whole team *and* the patient: the patient sees who is handling their conversation.
"""

from __future__ import annotations

from sqlmodel import Session

from care_messaging.models import Conversation, User
from care_messaging.services import audit, events
from care_messaging.services.access import participant_user_ids
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.care_team import (
    TeamMember,
    access_team_conversation,
    team_members,
)
from care_messaging.services.errors import ValidationError

NOT_ON_TEAM = "Only a provider on this patient's care team can handle this conversation."
CHANGED_MEANWHILE = "Someone else changed who is handling this a moment ago; see who now."


class _Unset:
    pass


UNSET = _Unset()


def assign(session: Session, *, actor: Actor, conversation_id: int,
           assignee_user_id: int | None, expected_user_id: int | _Unset | None = UNSET
           ) -> Conversation:
    """Make ``assignee_user_id`` (None: nobody) the one handling the conversation.

    ``expected_user_id``: who the actor's screen showed as handling it. When it moved in the
    meantime (two providers pressing "I'll take this" together), the change is refused
    instead of silently taking the conversation away from a colleague.
    """
    conversation = access_team_conversation(session, actor=actor,
                                            conversation_id=conversation_id,
                                            action=Action.CONVERSATION_ASSIGN)
    if assignee_user_id is not None:
        team = {m.user_id for m in team_members(session, conversation.patient_id)}
        if not isinstance(assignee_user_id, int) or assignee_user_id not in team:
            # On a session of its own: the caller's unit rolls back on the refusal.
            audit.record_apart(session, actor=actor, action=Action.CONVERSATION_ASSIGN,
                               outcome=Outcome.REJECTED, object_type="conversation",
                               object_id=conversation.id or "",
                               patient_id=conversation.patient_id,
                               detail=f"not on the care team: user {str(assignee_user_id)[:20]}")
            raise ValidationError(NOT_ON_TEAM)
    previous = conversation.assignee_user_id
    if not isinstance(expected_user_id, _Unset) and expected_user_id != previous:
        raise ValidationError(CHANGED_MEANWHILE)
    if previous == assignee_user_id:
        return conversation  # nothing changes: no audit row, no event
    conversation.assignee_user_id = assignee_user_id
    session.add(conversation)
    audit.record(session, actor=actor, action=Action.CONVERSATION_ASSIGN,
                 outcome=Outcome.SUCCESS, object_type="conversation",
                 object_id=conversation.id or "", patient_id=conversation.patient_id,
                 detail=f"user {previous or 'none'} -> user {assignee_user_id or 'none'}")
    events.record(session, events.DomainEvent(
        kind=events.Kind.ASSIGNED, conversation_id=conversation.id or 0,
        patient_id=conversation.patient_id, actor_user_id=actor.user_id,
        user_ids=tuple(participant_user_ids(session, conversation.patient_id))))
    return conversation


def take(session: Session, *, actor: Actor, conversation_id: int,
         expected_user_id: int | _Unset | None = UNSET) -> Conversation:
    """"I'll take this": the actor handles it."""
    return assign(session, actor=actor, conversation_id=conversation_id,
                  assignee_user_id=actor.user_id, expected_user_id=expected_user_id)


def release(session: Session, *, actor: Actor, conversation_id: int,
            expected_user_id: int | _Unset | None = UNSET) -> Conversation:
    """Nobody handles it any more (back to the team's "Unassigned" list)."""
    return assign(session, actor=actor, conversation_id=conversation_id,
                  assignee_user_id=None, expected_user_id=expected_user_id)


def assignable(session: Session, *, actor: Actor, conversation_id: int) -> list[TeamMember]:
    """Whom the actor may assign the conversation to: its patient's care team."""
    conversation = access_team_conversation(session, actor=actor,
                                            conversation_id=conversation_id,
                                            action=Action.CONVERSATION_ASSIGN)
    return team_members(session, conversation.patient_id)


def assignee_name(session: Session, conversation: Conversation) -> str:
    """The name of whoever handles ``conversation`` ("" for nobody)."""
    if conversation.assignee_user_id is None:
        return ""
    user = session.get(User, conversation.assignee_user_id)
    return user.display_name if user is not None else ""


def handling_label(name: str, *, mine: bool = False) -> str:
    """"Dr. Patel is handling this" (or "You are handling this", or who has not taken it)."""
    if mine:
        return "You are handling this"
    return f"{name} is handling this" if name else ""
