"""A FHIR R4 Bundle made by ``fhir_export`` back into conversations.

Two phases: first the whole Bundle is read into a plan (valid FHIR, people matched by
identifier: the patient by patient ID, providers by email; the patient one the importing
provider may see; every message and file checked like a send and an upload), then the plan
is written in one transaction (retractions and corrections included:
services/fhir_revisions.py). Files are written only in the second phase and removed again
if anything fails, so a refused or failed import leaves no row and no file, only its audit row.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, func, select

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
from care_messaging.services import audit, daily_counts
from care_messaging.services.access import can_see_patient
from care_messaging.services.actors import Actor
from care_messaging.services.attachments import EXTENSIONS, clean_display_name, sniff_type
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import NotFoundError, ServiceError, ValidationError
from care_messaging.services.fhir_export import NO_TEXT_TAG
from care_messaging.services.fhir_mapping import (
    CATEGORIES,
    CATEGORY_SYSTEM,
    CLIENT_MESSAGE_ID_SYSTEM,
    CONVERSATION_STATUS,
    IMPORTABLE_MESSAGE_STATUSES,
    MEDIUM_SYSTEM,
    MEDIUMS,
    PATIENT_ID_SYSTEM,
    PRIORITY_BACK,
    PROVIDER_EMAIL_SYSTEM,
    STATUS_SYSTEM,
    STATUSES,
    coding,
    identifier,
    parse_instant,
    validate_bundle,
)
from care_messaging.services.fhir_revisions import (
    Change,
    check_changes,
    read_changes,
    searchable_after,
    write_changes,
)
from care_messaging.services.messages import MAX_BODY_CHARS
from care_messaging.services.search import index_message
from care_messaging.settings import get_settings

PATIENT_NOT_VISIBLE = ("The Bundle's patient (ID {mrn}) was not found among the patients "
                       "you can see. Nothing was imported.")
_STATUS_BACK = {fhir: ours for ours, fhir in CONVERSATION_STATUS.items()}


@dataclass
class _File:
    name: str
    content_type: str
    data: bytes
    created_at: datetime | None


@dataclass
class _Message:
    sender_user_id: int
    sent: datetime
    text: str
    client_msg_id: str
    received: datetime | None
    reader_user_id: int | None  # who "received" stands for (the reader's mark is rebuilt)
    files: list[_File] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # its retraction/corrections, in order


@dataclass
class _Thread:
    topic: str
    status: str
    priority: str
    category: str
    medium: str
    reason: str
    created_at: datetime
    created_by_user_id: int
    provider_user_id: int | None
    messages: list[_Message] = field(default_factory=list)


@dataclass(frozen=True)
class ImportReport:
    conversation_ids: list[int]
    messages: int
    attachments: int


def _refuse(message: str) -> ValidationError:
    return ValidationError(message + " Nothing was imported.")


class _Reader:
    """The Bundle read into a plan, with people resolved; raises ServiceError on anything."""

    def __init__(self, session: Session, actor: Actor, data: dict[str, Any]) -> None:
        self.session, self.actor = session, actor
        validate_bundle(data)
        if NO_TEXT_TAG["code"] in {t.get("code") for t in
                                   (data.get("meta") or {}).get("tag", []) or []}:
            raise _refuse("This Bundle was exported without message text and cannot be "
                          "imported.")
        self.entries = {e.get("fullUrl"): e["resource"] for e in data.get("entry", []) or []
                        if isinstance(e, dict) and isinstance(e.get("resource"), dict)}
        self.patient: Patient | None = None
        self.users: dict[str, int] = {}  # fullUrl -> user id
        self.providers: set[int] = set()

    def _of_type(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(str(url), r) for url, r in self.entries.items()
                if r.get("resourceType") == kind]

    def resolve_people(self) -> Patient:
        patients = self._of_type("Patient")
        if len(patients) != 1:
            raise _refuse("The Bundle must name exactly one patient.")
        url, resource = patients[0]
        mrn = identifier(resource, PATIENT_ID_SYSTEM)
        if not mrn:
            raise _refuse(f"The patient has no identifier with system {PATIENT_ID_SYSTEM}.")
        patient = self.session.exec(select(Patient).where(
            func.lower(Patient.mrn) == mrn.lower())).first()
        if patient is None or not can_see_patient(self.session, self.actor, patient.id or 0):
            raise NotFoundError(PATIENT_NOT_VISIBLE.format(mrn=mrn[:20]))
        self.patient = patient
        self.users[url] = patient.user_id
        for url, resource in self._of_type("Practitioner"):
            email = identifier(resource, PROVIDER_EMAIL_SYSTEM)
            user = email and self.session.exec(select(User).where(
                func.lower(User.email) == email.lower(), User.role == Role.PROVIDER)).first()
            if not user:
                raise _refuse(f"The Bundle names a provider who is not in this clinic "
                              f"({email or 'no email identifier'}).")
            self.users[url] = user.id or 0
            self.providers.add(user.id or 0)
        return patient

    def person(self, reference: dict[str, Any] | None, what: str) -> int:
        url = (reference or {}).get("reference")
        if url not in self.users:
            raise _refuse(f"A {what} in the Bundle is not a Patient or Practitioner in it.")
        return self.users[url]

    def threads(self) -> list[_Thread]:
        communications = self._of_type("Communication")
        headers = {url: self._thread(r) for url, r in communications if not r.get("partOf")}
        if not headers:
            raise _refuse("The Bundle holds no conversation (a Communication without partOf).")
        changes, corrections = read_changes(self.entries, self.person, MAX_BODY_CHARS)
        for url, resource in communications:
            if resource.get("partOf") and url not in corrections:
                parent = resource["partOf"][0].get("reference")
                if parent not in headers:
                    raise _refuse("A message is partOf something that is not a conversation "
                                  "in the Bundle.")
                headers[parent].messages.append(self._message(resource, changes.pop(url, [])))
        if changes:  # a Provenance about something that is not a message here
            raise _refuse("A retraction or correction names a message that is not in the "
                          "Bundle.")
        return list(headers.values())

    def _thread(self, r: dict[str, Any]) -> _Thread:
        if self.person(r.get("subject"), "subject") != (self.patient and self.patient.user_id):
            raise _refuse("A conversation's subject is not the Bundle's patient.")
        status = coding(r.get("statusReason"), STATUS_SYSTEM) or _STATUS_BACK.get(r["status"])
        category = coding((r.get("category") or [None])[0], CATEGORY_SYSTEM) or "check_in"
        medium = coding((r.get("medium") or [None])[0], MEDIUM_SYSTEM) or "secure_message"
        if status not in STATUSES or category not in CATEGORIES or medium not in MEDIUMS:
            raise _refuse("A conversation has a status, category or medium this app does not "
                          "know.")
        if not r.get("sent"):
            raise _refuse("A conversation has no start time (sent).")
        assigned = [self.person(ref, "recipient") for ref in r.get("recipient", []) or []]
        if not set(assigned) <= self.providers:
            raise _refuse("A conversation's recipient (its provider) is not a Practitioner.")
        return _Thread(
            topic=((r.get("topic") or {}).get("text") or "Imported conversation")[:200],
            status=status, priority=PRIORITY_BACK.get(r.get("priority") or "routine", "routine"),
            category=category, medium=medium,
            reason=((r.get("reasonCode") or [{}])[0].get("text") or "")[:300],
            created_at=parse_instant(r["sent"]),
            created_by_user_id=self.person(r.get("sender"), "sender"),
            provider_user_id=assigned[0] if assigned else None)

    def _message(self, r: dict[str, Any], changes: list[Change]) -> _Message:
        if r.get("status") not in IMPORTABLE_MESSAGE_STATUSES:
            raise _refuse(f"A message has status {r.get('status')!r}, which cannot be imported.")
        if not r.get("sent"):
            raise _refuse("A message has no time (sent).")
        sender = self.person(r.get("sender"), "sender")
        check_changes(changes, status=r["status"], sender_user_id=sender)
        recipients = [self.person(ref, "recipient") for ref in r.get("recipient", []) or []]
        payload = r.get("payload", []) or []
        text = next((p["contentString"] for p in payload if p.get("contentString")), "")
        files = [self._file(p["contentAttachment"]) for p in payload
                 if p.get("contentAttachment")]
        if len(text) > MAX_BODY_CHARS or not (text.strip() or files):
            raise _refuse("A message is empty or longer than this app allows.")
        return _Message(
            sender_user_id=sender, sent=parse_instant(r["sent"]), text=text,
            client_msg_id=(identifier(r, CLIENT_MESSAGE_ID_SYSTEM) or str(uuid.uuid4()))[:64],
            received=parse_instant(r["received"]) if r.get("received") else None,
            reader_user_id=recipients[0] if recipients else None, files=files,
            changes=changes)

    def _file(self, a: dict[str, Any]) -> _File:
        raw = a.get("data")
        if raw is None and a.get("url") in self.entries:
            binary = self.entries[a["url"]]
            raw = binary.get("data") if binary.get("resourceType") == "Binary" else None
        try:
            data = base64.b64decode(raw or "", validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if not data:
            raise _refuse("An attachment's contents are missing from the Bundle.")
        sha1 = base64.b64encode(hashlib.sha1(data).digest()).decode()
        if (a.get("size") is not None and int(a["size"]) != len(data)) or (
                a.get("hash") and a["hash"] != sha1):
            raise _refuse("An attachment's contents do not match its size or hash.")
        content_type = sniff_type(data)
        if content_type is None or len(data) > get_settings().max_attachment_bytes:
            raise _refuse("An attachment is of a kind or size this app does not accept.")
        try:
            name = clean_display_name(a.get("title") or f"attachment{EXTENSIONS[content_type][0]}")
        except ValidationError as error:
            raise _refuse(str(error)) from None
        if Path(name).suffix.lower() not in EXTENSIONS[content_type]:
            raise _refuse(f"The attachment “{name}” has a name that does not match its contents.")
        return _File(name=name, content_type=content_type, data=data,
                     created_at=parse_instant(a["creation"]) if a.get("creation") else None)


def _write_thread(session: Session, patient: Patient, thread: _Thread,
                  pending_files: list[tuple[Path, bytes]]) -> tuple[int, int, int]:
    """Rows for one conversation (files only staged in ``pending_files``)."""
    conversation = Conversation(
        patient_id=patient.id or 0, topic=thread.topic, status=thread.status,
        priority=thread.priority, category=thread.category, medium=thread.medium,
        reason=thread.reason, created_by_user_id=thread.created_by_user_id,
        provider_user_id=thread.provider_user_id, created_at=thread.created_at,
        last_message_at=thread.created_at)
    session.add(conversation)
    session.flush()
    cid = conversation.id or 0
    providers = set(session.exec(select(User.id).where(User.role == Role.PROVIDER)).all())
    marks: dict[int, tuple[int, datetime]] = {}  # reader -> (last read seq, read at)
    files = 0
    for seq, item in enumerate(thread.messages, start=1):
        body_ct, key_id = crypto.encrypt_text(item.text, aad=crypto.message_aad(cid, seq,
                                                                         item.sender_user_id))
        message = Message(conversation_id=cid, sender_user_id=item.sender_user_id, seq=seq,
                          client_msg_id=item.client_msg_id, body_ct=body_ct, key_id=key_id,
                          created_at=item.sent)
        session.add(message)
        session.flush()
        write_changes(session, message, item.changes)
        index_message(session, message_id=message.id or 0,
                      body=searchable_after(item.text, item.changes))
        daily_counts.count_message(session, patient_id=patient.id or 0, at=item.sent)
        for f in item.files:
            row = Attachment(conversation_id=cid, message_id=message.id,
                             uploader_user_id=item.sender_user_id, display_name=f.name,
                             stored_name=secrets.token_hex(16), content_type=f.content_type,
                             size_bytes=len(f.data), sha256=hashlib.sha256(f.data).hexdigest(),
                             key_id="", created_at=f.created_at or item.sent)
            session.add(row)
            session.flush()  # the id the file's ciphertext is bound to
            blob, row.key_id = crypto.encrypt(f.data, aad=crypto.attachment_aad(cid, row.id or 0))
            session.add(row)
            pending_files.append((get_settings().attachment_dir / row.stored_name, blob))
            files += 1
        if item.received and item.reader_user_id:
            marks[item.reader_user_id] = (seq, item.received)
        if item.sender_user_id in providers and conversation.first_provider_reply_at is None:
            conversation.first_provider_reply_at = item.sent
        conversation.last_seq, conversation.last_message_id = seq, message.id
        conversation.last_message_at = item.sent
    for reader, (seq, at) in marks.items():
        # Read marks are per reader and conversation: the latest message read carries the time.
        session.add(ReadState(user_id=reader, conversation_id=cid, last_read_seq=seq,
                              last_delivered_seq=seq, read_at=at, delivered_at=at))
    session.add(conversation)
    return cid, len(thread.messages), files


def _load(raw: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _refuse("This file is not JSON.") from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise _refuse("This file is not a FHIR Bundle.")
    return data


def import_bundle(session: Session, *, actor: Actor, raw: bytes | str | dict[str, Any]
                  ) -> ImportReport:
    """Import a Bundle as a provider who may see its patient; all of it, or nothing."""
    patient: Patient | None = None
    pending: list[tuple[Path, bytes]] = []
    written: list[Path] = []
    try:
        if actor.role != Role.PROVIDER:
            raise NotFoundError("Only a provider on the patient's care team can import.")
        reader = _Reader(session, actor, _load(raw))
        patient = reader.resolve_people()
        threads = reader.threads()
        ids, messages, files = [], 0, 0
        for thread in threads:
            cid, count, attached = _write_thread(session, patient, thread, pending)
            ids.append(cid)
            messages, files = messages + count, files + attached
        session.flush()  # constraint errors (an import done twice) surface before any file
        for path, blob in pending:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            written.append(path)
            path.write_bytes(blob)
        audit.record(session, actor=actor, action=Action.FHIR_IMPORT, outcome=Outcome.SUCCESS,
                     object_type="patient", object_id=patient.id or "", patient_id=patient.id,
                     detail=f"conversations={len(ids)} messages={messages} attachments={files}")
    except BaseException as error:
        # The caller's unit of work rolls back the rows; the files are this service's to undo.
        for path in written:
            path.unlink(missing_ok=True)
        if isinstance(error, SQLAlchemyError):
            # A failed flush leaves the session unusable until it is rolled back (PostgreSQL
            # has aborted the transaction): the import was its unit's only write.
            session.rollback()
        if isinstance(error, IntegrityError):
            error = _refuse("This Bundle has already been imported (its messages exist).")
        # The refusal's or failure's row is written apart: the caller's unit rolls back.
        if isinstance(error, ServiceError):
            outcome = Outcome.DENIED if isinstance(error, NotFoundError) else Outcome.REJECTED
            audit.record_apart(session, actor=actor, action=Action.FHIR_IMPORT, outcome=outcome,
                               object_type="bundle", patient_id=patient.id if patient else None,
                               detail=str(error)[:200])
            raise error from None
        if isinstance(error, Exception):  # a disk or database failure: no details kept
            audit.record_apart(session, actor=actor, action=Action.FHIR_IMPORT,
                               outcome=Outcome.FAILURE, object_type="bundle",
                               patient_id=patient.id if patient else None,
                               detail=type(error).__name__)
        raise
    return ImportReport(conversation_ids=ids, messages=messages, attachments=files)
