"""Message search over encrypted bodies, through the blind index.

The database holds no plaintext, so a query is split into words, each word hashed with the
same key as the index, and matched whole-word (all words must be present). Results are the
newest matching messages the actor may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import Conversation, Message, MessageSearchTerm
from care_messaging.services.access import visible_patient_ids
from care_messaging.services.actors import Actor
from care_messaging.services.messages import decrypt_body

MAX_TERMS = 6


@dataclass(frozen=True)
class SearchHit:
    message_id: int
    conversation_id: int
    topic: str
    snippet: str
    created_at: datetime


def search_messages(session: Session, *, actor: Actor, query: str, limit: int = 20) -> list[SearchHit]:
    terms = sorted(crypto.search_terms(query or ""))[:MAX_TERMS]
    if not terms:
        return []
    visible = select(Conversation.id).where(col(Conversation.patient_id).in_(
        visible_patient_ids(actor)))
    ids = select(MessageSearchTerm.message_id).where(
        MessageSearchTerm.term == terms[0],
        col(MessageSearchTerm.conversation_id).in_(visible),
    )
    for term in terms[1:]:
        also = select(MessageSearchTerm.message_id).where(MessageSearchTerm.term == term)
        ids = ids.where(col(MessageSearchTerm.message_id).in_(also))
    hit_ids = session.exec(ids.order_by(col(MessageSearchTerm.message_id).desc())
                           .limit(max(1, min(limit, 100)))).all()
    if not hit_ids:
        return []
    rows = session.exec(select(Message, Conversation.topic)
                        .join(Conversation, Conversation.id == Message.conversation_id)
                        .where(col(Message.id).in_(hit_ids))
                        .order_by(col(Message.id).desc())).all()
    return [SearchHit(message_id=m.id or 0, conversation_id=m.conversation_id, topic=topic,
                      snippet=decrypt_body(m)[0][:120], created_at=m.created_at)
            for m, topic in rows]
