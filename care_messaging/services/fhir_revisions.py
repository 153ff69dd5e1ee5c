"""Retractions and corrections in a FHIR Bundle, both ways (services/fhir_export.py and
services/fhir_import.py call this; the shapes are described in services/fhir_mapping.py).

Export: after a message's Communication (``entered-in-error`` when retracted or corrected,
its original text kept: the record keeps it), one Communication per correction, then one
Provenance per change linking it to the original with its time and editor.

Import: the Provenances read back into each original message's changes, in order, which
``write_changes`` stores exactly as services/message_changes.py does (a ``message_revisions``
row per change, a correction's text encrypted with ``crypto.revision_aad``, the message's
``retracted_at``/``corrected_at``). Anything inconsistent is refused before a row is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import Message, MessageRevision, MessageRevisionKind
from care_messaging.services.errors import ValidationError
from care_messaging.services.fhir_mapping import (
    CORRECT_ACTIVITY,
    DATA_OPERATION,
    RETRACT_ACTIVITY,
    REVISION_ID_SYSTEM,
    REVISION_ROLE,
    STATUS_REASON,
    coding,
    correction_status,
    instant,
    parse_instant,
)
from care_messaging.services.message_revisions import decrypt_revision, message_state

TAMPERED_NOTE = "This correction could not be verified when exported."


def revisions_of(session: Session, message_ids: list[int]) -> dict[int, list[MessageRevision]]:
    """Each changed message's revisions, oldest first (one query for the conversation)."""
    out: dict[int, list[MessageRevision]] = defaultdict(list)
    if message_ids:
        for row in session.exec(select(MessageRevision)
                                .where(col(MessageRevision.message_id).in_(message_ids))
                                .order_by(col(MessageRevision.message_id),
                                          col(MessageRevision.revision_no))).all():
            out[row.message_id].append(row)
    return out


def status_reason(message: Message) -> dict[str, str] | None:
    """Why the original is ``entered-in-error``, for a human reader (the import derives the
    state from the Provenances, not from this text)."""
    text = STATUS_REASON.get(message_state(message))
    return {"text": text} if text else None


def _provenance(*, target: list[str], at: datetime, editor: dict[str, str], activity: str,
                original: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "target": [{"reference": url} for url in target],
        "recorded": instant(at),
        "activity": {"coding": [{"system": DATA_OPERATION, "code": activity}]},
        "agent": [{"who": editor}],
    }
    if original:
        resource["entity"] = [{"role": REVISION_ROLE, "what": {"reference": original}}]
    return resource


def export_changes(add: Callable[[dict[str, Any]], str], message: Message,
                   revisions: list[MessageRevision], *, original_url: str,
                   thread: dict[str, Any], person: Callable[[int], dict[str, str]],
                   with_text: bool) -> None:
    """The resources for a message's changes, added (in revision order) with ``add``, which
    returns the new entry's fullUrl. ``thread`` holds the original's partOf, subject and
    recipient, which a correction shares."""
    latest = max((r.revision_no for r in revisions if r.kind == MessageRevisionKind.CORRECT),
                 default=None)
    corrections: list[str] = []
    for revision in revisions:
        editor = person(revision.editor_user_id)
        if revision.kind == MessageRevisionKind.RETRACT:
            add(_provenance(target=[original_url, *corrections], at=revision.created_at,
                            editor=editor, activity=RETRACT_ACTIVITY))
            continue
        text, tampered = decrypt_revision(revision)
        resource: dict[str, Any] = {
            "resourceType": "Communication",
            "identifier": [{"system": REVISION_ID_SYSTEM,
                            "value": f"{message.client_msg_id}#{revision.revision_no}"}],
            **thread,
            "status": correction_status(message, latest=revision.revision_no == latest,
                                        tampered=tampered),
            "sent": instant(revision.created_at),
            "sender": editor,
        }
        if with_text and not tampered:
            resource["payload"] = [{"contentString": text}]
        if tampered:
            resource["note"] = [{"text": TAMPERED_NOTE}]
        url = add(resource)
        corrections.append(url)
        add(_provenance(target=[url], at=revision.created_at, editor=editor,
                        activity=CORRECT_ACTIVITY, original=original_url))


@dataclass(frozen=True)
class Change:
    """One retraction or correction read from the Bundle."""

    kind: str  # MessageRevisionKind
    editor_user_id: int
    at: datetime
    text: str = ""


def _refuse(message: str) -> ValidationError:
    return ValidationError(message + " Nothing was imported.")


def read_changes(entries: dict[str, dict[str, Any]], person: Callable[[Any, str], int],
                 max_chars: int) -> tuple[dict[str, list[Change]], set[str]]:
    """Each original message's changes (by its fullUrl), in order, and the fullUrls of the
    Communications that are corrections (not messages of their own)."""
    changes: dict[str, list[Change]] = defaultdict(list)
    corrections: set[str] = set()
    for resource in entries.values():
        if resource.get("resourceType") != "Provenance":
            continue
        activity = coding(resource.get("activity"), DATA_OPERATION)
        targets = [t.get("reference") for t in resource.get("target", []) or []]
        editor = person((resource.get("agent") or [{}])[0].get("who"), "change's author")
        at = parse_instant(resource["recorded"])
        if activity == RETRACT_ACTIVITY:
            changes[targets[0]].append(Change(MessageRevisionKind.RETRACT, editor, at))
        elif activity == CORRECT_ACTIVITY:
            original = next((e["what"].get("reference") for e in resource.get("entity", []) or []
                             if e.get("role") == REVISION_ROLE), None)
            correction = entries.get(targets[0]) or {}
            if (original is None or correction.get("resourceType") != "Communication"
                    or not correction.get("partOf") or targets[0] in corrections):
                raise _refuse("A correction in the Bundle does not name the message it "
                              "corrects and its own new text.")
            if correction.get("status") not in ("completed", "entered-in-error"):
                raise _refuse("A correction could not be verified when it was exported.")
            text = next((p["contentString"] for p in correction.get("payload", []) or []
                         if p.get("contentString")), "")
            if not text.strip() or len(text) > max_chars:
                raise _refuse("A correction is empty or longer than this app allows.")
            corrections.add(targets[0])
            changes[original].append(Change(MessageRevisionKind.CORRECT, editor, at, text))
        else:
            raise _refuse("A Provenance in the Bundle is neither a correction nor a "
                          "retraction of a message.")
    for url, items in changes.items():
        items.sort(key=lambda c: c.at)  # stable: same-time changes keep the Bundle's order
        if any(c.kind == MessageRevisionKind.RETRACT for c in items[:-1]):
            raise _refuse("A message is changed after its retraction.")
        if url in corrections:
            raise _refuse("A correction is itself corrected or retracted; only messages are.")
    return changes, corrections


def check_changes(changes: list[Change], *, status: str, sender_user_id: int) -> None:
    """A message's status must say what its changes say, and only its sender changes it
    (as in services/message_changes.py)."""
    if (status == "entered-in-error") != bool(changes):
        raise _refuse("A message's status does not match its retraction or correction (a "
                      "message is entered-in-error exactly when it was retracted or corrected).")
    if any(c.editor_user_id != sender_user_id for c in changes):
        raise _refuse("A message is retracted or corrected by someone other than its sender.")


def searchable_after(text: str, changes: list[Change]) -> str:
    """What the search index holds for an imported message (as search.searchable_text for
    one written here): nothing once retracted, else the latest correction or the original."""
    if any(c.kind == MessageRevisionKind.RETRACT for c in changes):
        return ""
    corrections = [c.text for c in changes if c.kind == MessageRevisionKind.CORRECT]
    return corrections[-1] if corrections else text


def write_changes(session: Session, message: Message, changes: list[Change]) -> None:
    """Store the changes of a just-written message as the retract/correct service does."""
    for revision_no, change in enumerate(changes, start=1):
        body_ct, key_id = None, ""
        if change.kind == MessageRevisionKind.CORRECT:
            body_ct, key_id = crypto.encrypt_text(change.text, aad=crypto.revision_aad(
                message.conversation_id, message.id or 0, revision_no, change.editor_user_id))
            message.corrected_at = change.at
        else:
            message.retracted_at = change.at
        session.add(MessageRevision(message_id=message.id or 0,
                                    conversation_id=message.conversation_id,
                                    revision_no=revision_no, kind=change.kind,
                                    editor_user_id=change.editor_user_id, body_ct=body_ct,
                                    key_id=key_id, created_at=change.at))
    if changes:
        session.add(message)
