"""Who is answering, on the provider dashboard: "I'll take this", assign to a colleague on the
patient's care team, release.

A Reflex state mixin for ``DashboardState``: the page calls ``_show_assignment`` from its
thread header hook and ``_clear_assignment`` when the thread closes. Each handler resolves the
provider from the server-side session and leaves every check to ``services/assignment.py``
(access, care-team membership, a change made meanwhile); the other tabs (colleagues and the
patient) hear of it through the change's domain event.
"""

from __future__ import annotations

import reflex as rx

from care_messaging.db import session_scope
from care_messaging.services import assignment
from care_messaging.services.actors import Actor
from care_messaging.services.errors import ServiceError
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import PAGE_ROLE, guarded
from care_messaging.state.shared_values import NO_ROWS, no_rows
from care_messaging.state.thread_base import parse_id

UNASSIGNED_LABEL = "Unassigned: nobody on the care team has taken this yet"


class AssignmentState(AuthState, mixin=True):
    # The open thread's handler: user id ("" for nobody) and the sentence the header shows.
    assignee_id: str = ""
    handling_label: str = ""
    # The patient's care team (who it can be assigned to): user id and name.
    team_options: list[dict[str, str]] = rx.field(default_factory=no_rows)
    assign_error: str = ""
    assigned_to_me: bool = False

    def _show_assignment(self, session, actor: Actor, conversation) -> None:
        """The header's "who is handling this" for the open conversation."""
        assignee = conversation.assignee_user_id
        self.assignee_id = str(assignee) if assignee else ""
        self.assigned_to_me = assignee == actor.user_id
        name = assignment.assignee_name(session, conversation)
        self.handling_label = (assignment.handling_label(name, mine=assignee == actor.user_id)
                               or UNASSIGNED_LABEL)

    def _load_team(self, session, actor: Actor, conversation_id: int) -> None:
        self.team_options = [
            {"id": str(m.user_id), "name": "Me" if m.user_id == actor.user_id else m.name}
            for m in assignment.assignable(session, actor=actor, conversation_id=conversation_id)
        ]

    def _clear_assignment(self) -> None:
        self.assignee_id = self.handling_label = self.assign_error = ""
        self.assigned_to_me = False
        self.team_options = NO_ROWS

    def _change_assignment(self, actor: Actor, to_user_id: int | None) -> None:
        """Assign the open conversation (``None``: release), as the provider saw it."""
        conversation_id = parse_id(self.open_id)
        if conversation_id is None:
            return None
        self.assign_error = ""
        expected = parse_id(self.assignee_id)
        with session_scope() as session:
            try:
                conversation = assignment.assign(
                    session, actor=actor, conversation_id=conversation_id,
                    assignee_user_id=to_user_id, expected_user_id=expected)
            except ServiceError as error:
                session.rollback()
                self.assign_error = str(error)
                conversation = None
            try:
                if conversation is None:  # show who handles it now (it may have moved)
                    conversation = assignment.access_team_conversation(
                        session, actor=actor, conversation_id=conversation_id,
                        action=assignment.Action.CONVERSATION_ASSIGN)
            except ServiceError as error:
                self.assign_error = str(error)
                return None
            self._show_header(session, actor, conversation)  # type: ignore[attr-defined]
            self._refresh(session, actor)  # type: ignore[attr-defined]
        return None

    @guarded(PAGE_ROLE)
    def take_conversation(self, actor: Actor):
        """"I'll take this"."""
        self._change_assignment(actor, actor.user_id)
        return None

    @guarded(PAGE_ROLE)
    def assign_to(self, actor: Actor, user_id: str):
        """Assign the open conversation to a colleague chosen from the care team (the id comes
        from the browser: the service refuses anyone not on the patient's care team)."""
        to = parse_id(user_id)
        if to is None:
            self.assign_error = assignment.NOT_ON_TEAM
            return None
        self._change_assignment(actor, to)
        return None

    @guarded(PAGE_ROLE)
    def release_conversation(self, actor: Actor):
        self._change_assignment(actor, None)
        return None
