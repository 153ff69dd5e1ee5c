"""A conversation (or all of a patient's) as a FHIR R4 Bundle of type ``collection``.

One thread-header ``Communication`` per conversation (topic, category, priority, medium,
reasonCode, subject = the Patient, status), then one ``Communication`` per message in order
(``partOf`` its header, ``inResponseTo`` the latest earlier message from someone else,
sender/recipient, ``sent``, ``received`` = when the other side read it, payload text and
attachments), the ``Patient`` and ``Practitioner`` resources they name, and each file as a
``Binary`` the attachment points to. A retracted or corrected message stays, with its text,
as ``entered-in-error``, followed by its corrections and a ``Provenance`` per change
(services/fhir_revisions.py). Vocabulary: services/fhir_mapping.py.

Who may export: a provider on the patient's care team; an administrator gets the record
without message text, file names or file contents unless ``fhir_admin_text`` is set. Anyone
else (a patient included) gets NotFoundError, like a conversation that does not exist. Every
export and every refusal is audited.
"""

from __future__ import annotations

import base64
import hashlib
from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import (
    Attachment,
    Conversation,
    Message,
    Patient,
    ReadState,
    Role,
    User,
)
from care_messaging.services import attachments as attachment_store
from care_messaging.services import audit
from care_messaging.services.access import (
    INVALID_CONVERSATION,
    INVALID_PATIENT,
    access_conversation,
    access_patient,
)
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import NotFoundError, ValidationError
from care_messaging.services.fhir_bundle import ExportBundle, concept, new_url
from care_messaging.services.fhir_mapping import (
    CATEGORY_SYSTEM,
    CLIENT_MESSAGE_ID_SYSTEM,
    CONVERSATION_STATUS,
    MEDIUM_MODE,
    MEDIUM_SYSTEM,
    PARTICIPATION_MODE,
    PRIORITY,
    STATUS_SYSTEM,
    instant,
    message_status,
    validate_bundle,
)
from care_messaging.services.fhir_revisions import export_changes, revisions_of, status_reason
from care_messaging.settings import get_settings

UNVERIFIED_FILE = "A file in this conversation could not be verified; nothing was exported."


def _header(conversation: Conversation, subject: dict[str, Any], creator: dict[str, Any],
            assigned: dict[str, Any] | None) -> dict[str, Any]:
    mode, mode_text = MEDIUM_MODE.get(conversation.medium, ("ONLINEWRIT", "online written"))
    medium = concept(MEDIUM_SYSTEM, conversation.medium)
    medium["coding"].append({"system": PARTICIPATION_MODE, "code": mode, "display": mode_text})
    header: dict[str, Any] = {
        "resourceType": "Communication",
        "status": CONVERSATION_STATUS.get(conversation.status, "unknown"),
        "statusReason": concept(STATUS_SYSTEM, conversation.status),
        "category": [concept(CATEGORY_SYSTEM, conversation.category)],
        "priority": PRIORITY.get(conversation.priority, "routine"),
        "medium": [medium],
        "subject": subject,
        "topic": {"text": conversation.topic},
        "sent": instant(conversation.created_at),
        "sender": creator,
    }
    if conversation.reason:
        header["reasonCode"] = [{"text": conversation.reason}]
    if assigned is not None:
        # The provider the patient sees the conversation as being with.
        header["recipient"] = [assigned]
    return header


def _received(message: Message, patient_user_id: int, states: list[ReadState]) -> str | None:
    """When the other side read the message: the earliest read mark that covers it (read
    times are kept per reader and conversation, not per message)."""
    times = [s.read_at for s in states
             if s.read_at is not None and s.last_read_seq >= message.seq
             and s.user_id != message.sender_user_id
             and (s.user_id == patient_user_id) != (message.sender_user_id == patient_user_id)]
    return instant(min(times)) if times else None


def _attachment(out: ExportBundle, row: Attachment) -> dict[str, Any]:
    try:
        data = attachment_store.read_stored(row)
    except crypto.TamperedDataError:
        raise ValidationError(UNVERIFIED_FILE) from None
    item: dict[str, Any] = {
        "contentType": row.content_type, "size": len(data),
        # FHIR defines Attachment.hash as SHA-1 (an integrity check, not a security one).
        "hash": base64.b64encode(hashlib.sha1(data).digest()).decode(),
        "creation": instant(row.created_at)}
    if out.with_text:
        ident, url = new_url()
        out.binaries.append({"fullUrl": url, "resource": {
            "resourceType": "Binary", "id": ident, "contentType": row.content_type,
            "data": base64.b64encode(data).decode()}})
        item["title"] = row.display_name
        item["url"] = url
    out.files += 1
    return item


def _add_conversation(out: ExportBundle, conversation: Conversation, patient: Patient) -> None:
    session = out.session
    messages = session.exec(select(Message).where(Message.conversation_id == conversation.id)
                            .order_by(col(Message.seq))).all()
    revisions = revisions_of(session, [m.id or 0 for m in messages
                                       if m.retracted_at is not None or m.corrected_at is not None])
    user_ids = ({m.sender_user_id for m in messages} | {conversation.created_by_user_id}
                | {r.editor_user_id for rows in revisions.values() for r in rows})
    if conversation.provider_user_id:
        user_ids.add(conversation.provider_user_id)
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(user_ids))).all()}
    patient_user = session.get(User, patient.user_id)
    assert patient_user is not None

    def ref(user_id: int) -> dict[str, str]:
        user = users[user_id]
        return out.person(user, patient if user.id == patient.user_id else None)

    subject = out.person(patient_user, patient)
    assigned = ref(conversation.provider_user_id) if conversation.provider_user_id else None
    header_url = out.add(_header(conversation, subject, ref(conversation.created_by_user_id),
                                 assigned))
    providers = sorted(uid for uid, u in users.items() if u.role == Role.PROVIDER and uid)
    states = list(session.exec(select(ReadState)
                               .where(ReadState.conversation_id == conversation.id)).all())
    files: dict[int, list[Attachment]] = defaultdict(list)
    for row in session.exec(select(Attachment).where(
            col(Attachment.message_id).in_([m.id for m in messages]))
            .order_by(col(Attachment.id))).all():
        files[row.message_id or 0].append(row)
    earlier: list[tuple[int, str]] = []  # (sender, fullUrl) of the messages so far
    for message in messages:
        body, tampered = crypto.decrypt_body(message)
        resource: dict[str, Any] = {
            "resourceType": "Communication",
            "identifier": [{"system": CLIENT_MESSAGE_ID_SYSTEM, "value": message.client_msg_id}],
            "partOf": [{"reference": header_url}],
            "status": message_status(message, tampered=tampered),
            "subject": subject,
            "sent": instant(message.created_at),
            "sender": ref(message.sender_user_id),
        }
        reply_to = next((url for sender, url in reversed(earlier)
                         if sender != message.sender_user_id), None)
        if reply_to:
            resource["inResponseTo"] = [{"reference": reply_to}]
        recipients = ([subject] if message.sender_user_id != patient.user_id
                      else [ref(uid) for uid in providers])
        if recipients:
            resource["recipient"] = recipients
        received = _received(message, patient.user_id, states)
        if received:
            resource["received"] = received
        payload: list[dict[str, Any]] = []
        if out.with_text and body and not tampered:
            payload.append({"contentString": body})
        payload += [{"contentAttachment": _attachment(out, row)}
                    for row in files.get(message.id or 0, [])]
        if payload:
            resource["payload"] = payload
        if tampered:
            resource["note"] = [{"text": "This message could not be verified when exported."}]
        elif reason := status_reason(message):
            resource["statusReason"] = reason
        url = out.add(resource)
        earlier.append((message.sender_user_id, url))
        out.messages += 1
        # Its corrections and retraction right after it (services/fhir_revisions.py).
        export_changes(out.add, message, revisions.get(message.id or 0, []), original_url=url,
                       thread={k: resource[k] for k in ("partOf", "subject", "recipient")
                               if k in resource},
                       person=ref, with_text=out.with_text)


def _admin_lookup(session: Session, actor: Actor, conversation_id: int | None,
                  patient_id: int | None) -> tuple[Patient, Conversation | None]:
    """An administrator may export any record (without text by default); a patient or anyone
    else is refused exactly like a record that does not exist."""
    conversation = patient = None
    if actor.role == Role.ADMIN:
        if isinstance(conversation_id, int):
            conversation = session.get(Conversation, conversation_id)
            patient = conversation and session.get(Patient, conversation.patient_id)
        elif conversation_id is None and isinstance(patient_id, int):
            patient = session.get(Patient, patient_id)
    if not patient:
        kind = "conversation" if conversation_id is not None else "patient"
        audit.record_apart(session, actor=actor, action=Action.FHIR_EXPORT,
                           outcome=Outcome.DENIED, object_type=kind,
                           object_id=str(conversation_id if conversation_id is not None
                                         else patient_id)[:64])
        raise NotFoundError(INVALID_CONVERSATION if conversation_id is not None
                            else INVALID_PATIENT)
    return patient, conversation


def _may_export(session: Session, actor: Actor, *, conversation_id: int | None = None,
                patient_id: int | None = None) -> tuple[Patient, list[Conversation]]:
    """The patient and conversations, after the access check (NotFoundError if refused)."""
    conversation: Conversation | None
    if actor.role == Role.PROVIDER:
        if conversation_id is not None:
            conversation = access_conversation(session, actor=actor,
                                               conversation_id=conversation_id,
                                               action=Action.FHIR_EXPORT)
            patient = session.get(Patient, conversation.patient_id)
            assert patient is not None
            return patient, [conversation]
        patient = access_patient(session, actor=actor, patient_id=patient_id or 0,
                                 action=Action.FHIR_EXPORT)
    else:
        patient, conversation = _admin_lookup(session, actor, conversation_id, patient_id)
        if conversation is not None:
            return patient, [conversation]
    conversations = session.exec(select(Conversation).where(Conversation.patient_id == patient.id)
                                 .order_by(col(Conversation.created_at),
                                           col(Conversation.id))).all()
    return patient, list(conversations)


def _export(session: Session, *, actor: Actor, conversation_id: int | None = None,
            patient_id: int | None = None) -> dict[str, Any]:
    patient, conversations = _may_export(session, actor, conversation_id=conversation_id,
                                         patient_id=patient_id)
    with_text = actor.role == Role.PROVIDER or get_settings().fhir_admin_text
    out = ExportBundle(session=session, with_text=with_text)
    kind, ident = (("conversation", conversation_id) if conversation_id is not None
                   else ("patient", patient.id))
    try:
        patient_user = session.get(User, patient.user_id)
        assert patient_user is not None
        out.person(patient_user, patient)  # the Patient even when there is no conversation
        for conversation in conversations:
            _add_conversation(out, conversation, patient)
        bundle = out.as_dict()
        validate_bundle(bundle)  # what we hand out is valid FHIR, or nothing is handed out
    except ValidationError as error:
        # Recorded apart: nothing is handed out, and the caller's unit may roll back.
        audit.record_apart(session, actor=actor, action=Action.FHIR_EXPORT,
                           outcome=Outcome.FAILURE, object_type=kind, object_id=str(ident),
                           patient_id=patient.id, detail=str(error)[:200])
        raise
    audit.record(session, actor=actor, action=Action.FHIR_EXPORT, outcome=Outcome.SUCCESS,
                 object_type=kind, object_id=str(ident), patient_id=patient.id,
                 detail=f"conversations={len(conversations)} messages={out.messages} "
                        f"attachments={out.files} text={'yes' if with_text else 'no'}")
    return bundle


def export_conversation(session: Session, *, actor: Actor, conversation_id: int
                        ) -> dict[str, Any]:
    """One conversation as a FHIR R4 Bundle (a JSON-ready dict), audited."""
    return _export(session, actor=actor, conversation_id=conversation_id)


def export_patient(session: Session, *, actor: Actor, patient_id: int) -> dict[str, Any]:
    """All of a patient's conversations in one FHIR R4 Bundle, audited."""
    return _export(session, actor=actor, patient_id=patient_id)
