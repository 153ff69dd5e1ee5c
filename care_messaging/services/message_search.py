"""Message search as people use it: each hit with its context (conversation topic, patient,
sender, time and a snippet around the matching words), for the search page.

The hits come from ``search.search_messages`` (the blind index, scoped to what the actor may
see: a provider their care teams' patients, a patient their own conversations). Every search
writes one audit row (how many results; never the words searched for, which may be PHI).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from care_messaging.models import Conversation, Patient, User
from care_messaging.services import audit
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.search import search_messages

SNIPPET_CHARS = 160
MAX_QUERY_CHARS = 200


@dataclass(frozen=True)
class SearchResult:
    message_id: int
    conversation_id: int
    seq: int
    topic: str
    patient_name: str
    sender_name: str
    mine: bool
    created_at: datetime
    snippet: str


def snippet(body: str, query: str, width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``body`` around the first whole-word match of a query
    word (the start of the body when none is found), with "…" where it was cut."""
    text = " ".join(body.split())
    if len(text) <= width:
        return text
    start = 0
    for word in re.findall(r"\w{2,}", query.lower()):
        found = re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text.lower())
        if found:
            start = max(0, found.start() - width // 3)
            break
    end = min(len(text), start + width)
    start = max(0, end - width)
    return ("…" if start else "") + text[start:end].strip() + ("…" if end < len(text) else "")


def find_messages(session: Session, *, actor: Actor, query: str,
                  limit: int = 30) -> list[SearchResult]:
    """The newest messages the actor may see holding every word of ``query``, in context."""
    query = (query or "")[:MAX_QUERY_CHARS]
    hits = search_messages(session, actor=actor, query=query, limit=limit)
    conversations = {c.id: c for c in session.exec(select(Conversation).where(
        col(Conversation.id).in_({h.conversation_id for h in hits}))).all()} if hits else {}
    patients = {p.id: p for p in session.exec(select(Patient).where(
        col(Patient.id).in_({h.patient_id for h in hits}))).all()} if hits else {}
    senders = dict(session.exec(select(User.id, User.display_name).where(
        col(User.id).in_({h.sender_user_id for h in hits}))).all()) if hits else {}
    results = []
    for hit in hits:
        conversation, patient = conversations.get(hit.conversation_id), patients.get(hit.patient_id)
        if conversation is None or patient is None:
            continue
        results.append(SearchResult(
            message_id=hit.message_id, conversation_id=hit.conversation_id, seq=hit.seq,
            topic=conversation.topic, patient_name=patient.full_name,
            sender_name=senders.get(hit.sender_user_id, ""),
            mine=hit.sender_user_id == actor.user_id, created_at=hit.created_at,
            snippet=snippet(hit.body, query)))
    audit.record(session, actor=actor, action=Action.MESSAGE_SEARCH, outcome=Outcome.SUCCESS,
                 object_type="messages", detail=f"{len(results)} results")
    return results
