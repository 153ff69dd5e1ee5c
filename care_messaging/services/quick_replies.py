"""Quick replies: reusable reply texts with placeholders.

Two kinds: clinic-wide ones (``owner_user_id`` None) that only the admin manages, and a
provider's own. A provider sees both (theirs first) and inserts one into the reply box, where
it stays editable before sending. Placeholders are filled for the open conversation:
``{patient_first_name}`` and ``{provider_name}`` (the provider inserting it); any other text
in braces stays as written. The conversation is re-checked for access before a name is filled
in. Templates hold no PHI; creating, changing and deleting one is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import or_
from sqlmodel import Session, col, select

from care_messaging.models import Patient, QuickReply, Role, utcnow
from care_messaging.services import audit
from care_messaging.services.access import access_conversation
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Outcome
from care_messaging.services.errors import NotFoundError, ValidationError

ACTION = "quick_reply_change"
PLACEHOLDERS = ("patient_first_name", "provider_name")
MAX_NAME = 40
MAX_BODY = 2000
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


@dataclass(frozen=True)
class QuickReplyView:
    id: int
    name: str
    body: str
    clinic_wide: bool


def fill(template: str, *, patient_first_name: str, provider_name: str) -> str:
    """The template with its placeholders filled (single pass: a name containing braces is
    never filled again)."""
    values = {"patient_first_name": patient_first_name, "provider_name": provider_name}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _owner_for(actor: Actor, clinic_wide: bool) -> int | None:
    if clinic_wide:
        if actor.role != Role.ADMIN:
            raise NotFoundError("Not found.")
        return None
    if actor.role != Role.PROVIDER:
        raise NotFoundError("Not found.")
    return actor.user_id


def _validate(name: str, body: str) -> tuple[str, str]:
    name = (name or "").strip().lstrip("/").lower()
    body = (body or "").strip()
    if not _NAME.match(name):
        raise ValidationError("A name is 1-40 lowercase letters, digits, - or _ (typed after /).")
    if not body:
        raise ValidationError("Write the reply text.")
    if len(body) > MAX_BODY:
        raise ValidationError(f"A quick reply can be at most {MAX_BODY} characters.")
    return name, body


def _views(rows: list[QuickReply]) -> list[QuickReplyView]:
    return [QuickReplyView(r.id or 0, r.name, r.body, r.owner_user_id is None) for r in rows]


def list_own(session: Session, *, actor: Actor, clinic_wide: bool) -> list[QuickReplyView]:
    """What the management page lists: the clinic's (admin) or the provider's own."""
    owner = _owner_for(actor, clinic_wide)
    query = select(QuickReply).where(QuickReply.owner_user_id == owner if owner is not None
                                     else col(QuickReply.owner_user_id).is_(None))
    return _views(list(session.exec(query.order_by(col(QuickReply.name))).all()))


def available(session: Session, *, actor: Actor) -> list[QuickReplyView]:
    """The provider's own quick replies and the clinic's, unfilled (own first; an own one
    hides a clinic one of the same name)."""
    if actor.role != Role.PROVIDER:
        return []
    rows = session.exec(select(QuickReply).where(
        or_(col(QuickReply.owner_user_id) == actor.user_id, col(QuickReply.owner_user_id).is_(None))
    ).order_by(col(QuickReply.name))).all()
    own = [r for r in rows if r.owner_user_id is not None]
    names = {r.name for r in own}
    return _views(own + [r for r in rows if r.owner_user_id is None and r.name not in names])


def for_conversation(session: Session, *, actor: Actor, conversation_id: int
                     ) -> list[QuickReplyView]:
    """The provider's quick replies filled for one conversation they may see."""
    if actor.role != Role.PROVIDER:
        raise NotFoundError("Not found.")
    conversation = access_conversation(session, actor=actor, conversation_id=conversation_id)
    patient = session.get(Patient, conversation.patient_id)
    first = patient.first_name if patient else ""
    return [QuickReplyView(v.id, v.name, fill(v.body, patient_first_name=first,
                                              provider_name=actor.display_name), v.clinic_wide)
            for v in available(session, actor=actor)]


def save(session: Session, *, actor: Actor, clinic_wide: bool, name: str, body: str,
         quick_reply_id: int | None = None) -> QuickReplyView:
    """Create (no id) or change one of the actor's own (or, the admin, the clinic's)."""
    owner = _owner_for(actor, clinic_wide)
    name, body = _validate(name, body)
    row = _own_row(session, owner, quick_reply_id) if quick_reply_id else QuickReply(
        owner_user_id=owner, name=name, body=body)
    clash = session.exec(select(QuickReply.id).where(
        QuickReply.name == name, QuickReply.owner_user_id == owner if owner is not None
        else col(QuickReply.owner_user_id).is_(None))).first()
    if clash is not None and clash != row.id:
        raise ValidationError(f"There is already a quick reply named /{name}.")
    row.name, row.body, row.updated_at = name, body, utcnow()
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action=ACTION, outcome=Outcome.SUCCESS,
                 object_type="quick_reply", object_id=row.id or "",
                 detail=f"{'update' if quick_reply_id else 'create'} "
                        f"scope={'clinic' if owner is None else 'own'} name={name}")
    return _views([row])[0]


def delete(session: Session, *, actor: Actor, clinic_wide: bool, quick_reply_id: int) -> None:
    owner = _owner_for(actor, clinic_wide)
    row = _own_row(session, owner, quick_reply_id)
    session.delete(row)
    audit.record(session, actor=actor, action=ACTION, outcome=Outcome.SUCCESS,
                 object_type="quick_reply", object_id=quick_reply_id,
                 detail=f"delete scope={'clinic' if owner is None else 'own'} name={row.name}")


def _own_row(session: Session, owner: int | None, quick_reply_id: int | None) -> QuickReply:
    row = session.get(QuickReply, quick_reply_id) if isinstance(quick_reply_id, int) else None
    if row is None or row.owner_user_id != owner:
        raise NotFoundError("Quick reply not found.")  # another's looks like none at all
    return row
