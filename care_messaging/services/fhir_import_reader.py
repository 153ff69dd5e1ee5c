"""The first phase of a FHIR import (services/fhir_import.py): the Bundle read into a plan.

Valid FHIR; people matched by identifier (the patient by patient ID, providers by email); the
patient one the importing provider may see; every message and file checked like a send and
an upload. Nothing is written here: a refusal raises ServiceError before the second phase.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, func, select

from care_messaging.models import (
    Patient,
    Role,
    User,
)
from care_messaging.services.access import can_see_patient
from care_messaging.services.actors import Actor
from care_messaging.services.attachments import EXTENSIONS, clean_display_name, sniff_type
from care_messaging.services.errors import NotFoundError, ValidationError
from care_messaging.services.fhir_bundle import NO_TEXT_TAG
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
)
from care_messaging.services.message_sending import MAX_BODY_CHARS
from care_messaging.settings import get_settings

PATIENT_NOT_VISIBLE = ("The Bundle's patient (ID {mrn}) was not found among the patients "
                       "you can see. Nothing was imported.")
_STATUS_BACK = {fhir: ours for ours, fhir in CONVERSATION_STATUS.items()}


@dataclass
class PlannedFile:
    name: str
    content_type: str
    data: bytes
    created_at: datetime | None


@dataclass
class PlannedMessage:
    sender_user_id: int
    sent: datetime
    text: str
    client_msg_id: str
    received: datetime | None
    reader_user_id: int | None  # who "received" stands for (the reader's mark is rebuilt)
    files: list[PlannedFile] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)  # its retraction/corrections, in order


@dataclass
class PlannedThread:
    topic: str
    status: str
    priority: str
    category: str
    medium: str
    reason: str
    created_at: datetime
    created_by_user_id: int
    provider_user_id: int | None
    messages: list[PlannedMessage] = field(default_factory=list)


def refuse(message: str) -> ValidationError:
    return ValidationError(message + " Nothing was imported.")


class BundleReader:
    """The Bundle read into a plan, with people resolved; raises ServiceError on anything."""

    def __init__(self, session: Session, actor: Actor, data: dict[str, Any]) -> None:
        self.session, self.actor = session, actor
        validate_bundle(data)
        if NO_TEXT_TAG["code"] in {t.get("code") for t in
                                   (data.get("meta") or {}).get("tag", []) or []}:
            raise refuse("This Bundle was exported without message text and cannot be "
                          "imported.")
        # Keyed by each entry's fullUrl as the JSON has it (normally a str).
        self.entries: dict[Any, dict[str, Any]] = {e.get("fullUrl"): e["resource"] for e in data.get("entry", []) or []
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
            raise refuse("The Bundle must name exactly one patient.")
        url, resource = patients[0]
        mrn = identifier(resource, PATIENT_ID_SYSTEM)
        if not mrn:
            raise refuse(f"The patient has no identifier with system {PATIENT_ID_SYSTEM}.")
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
                raise refuse(f"The Bundle names a provider who is not in this clinic "
                              f"({email or 'no email identifier'}).")
            self.users[url] = user.id or 0
            self.providers.add(user.id or 0)
        return patient

    def person(self, reference: dict[str, Any] | None, what: str) -> int:
        url = (reference or {}).get("reference")
        if url not in self.users:
            raise refuse(f"A {what} in the Bundle is not a Patient or Practitioner in it.")
        return self.users[url]

    def threads(self) -> list[PlannedThread]:
        communications = self._of_type("Communication")
        headers = {url: self._thread(r) for url, r in communications if not r.get("partOf")}
        if not headers:
            raise refuse("The Bundle holds no conversation (a Communication without partOf).")
        changes, corrections = read_changes(self.entries, self.person, MAX_BODY_CHARS)
        for url, resource in communications:
            if resource.get("partOf") and url not in corrections:
                parent = resource["partOf"][0].get("reference")
                if parent not in headers:
                    raise refuse("A message is partOf something that is not a conversation "
                                  "in the Bundle.")
                headers[parent].messages.append(self._message(resource, changes.pop(url, [])))
        if changes:  # a Provenance about something that is not a message here
            raise refuse("A retraction or correction names a message that is not in the "
                          "Bundle.")
        return list(headers.values())

    def _thread(self, r: dict[str, Any]) -> PlannedThread:
        if self.person(r.get("subject"), "subject") != (self.patient and self.patient.user_id):
            raise refuse("A conversation's subject is not the Bundle's patient.")
        status = coding(r.get("statusReason"), STATUS_SYSTEM) or _STATUS_BACK.get(r["status"])
        category = coding((r.get("category") or [None])[0], CATEGORY_SYSTEM) or "check_in"
        medium = coding((r.get("medium") or [None])[0], MEDIUM_SYSTEM) or "secure_message"
        if status not in STATUSES or category not in CATEGORIES or medium not in MEDIUMS:
            raise refuse("A conversation has a status, category or medium this app does not "
                          "know.")
        if not r.get("sent"):
            raise refuse("A conversation has no start time (sent).")
        assigned = [self.person(ref, "recipient") for ref in r.get("recipient", []) or []]
        if not set(assigned) <= self.providers:
            raise refuse("A conversation's recipient (its provider) is not a Practitioner.")
        return PlannedThread(
            topic=((r.get("topic") or {}).get("text") or "Imported conversation")[:200],
            status=status, priority=PRIORITY_BACK.get(r.get("priority") or "routine", "routine"),
            category=category, medium=medium,
            reason=((r.get("reasonCode") or [{}])[0].get("text") or "")[:300],
            created_at=parse_instant(r["sent"]),
            created_by_user_id=self.person(r.get("sender"), "sender"),
            provider_user_id=assigned[0] if assigned else None)

    def _message(self, r: dict[str, Any], changes: list[Change]) -> PlannedMessage:
        if r.get("status") not in IMPORTABLE_MESSAGE_STATUSES:
            raise refuse(f"A message has status {r.get('status')!r}, which cannot be imported.")
        if not r.get("sent"):
            raise refuse("A message has no time (sent).")
        sender = self.person(r.get("sender"), "sender")
        check_changes(changes, status=r["status"], sender_user_id=sender)
        recipients = [self.person(ref, "recipient") for ref in r.get("recipient", []) or []]
        payload = r.get("payload", []) or []
        text = next((p["contentString"] for p in payload if p.get("contentString")), "")
        files = [self._file(p["contentAttachment"]) for p in payload
                 if p.get("contentAttachment")]
        if len(text) > MAX_BODY_CHARS or not (text.strip() or files):
            raise refuse("A message is empty or longer than this app allows.")
        return PlannedMessage(
            sender_user_id=sender, sent=parse_instant(r["sent"]), text=text,
            client_msg_id=(identifier(r, CLIENT_MESSAGE_ID_SYSTEM) or str(uuid.uuid4()))[:64],
            received=parse_instant(r["received"]) if r.get("received") else None,
            reader_user_id=recipients[0] if recipients else None, files=files,
            changes=changes)

    def _file(self, a: dict[str, Any]) -> PlannedFile:
        raw = a.get("data")
        if raw is None and a.get("url") in self.entries:
            binary = self.entries[a["url"]]
            raw = binary.get("data") if binary.get("resourceType") == "Binary" else None
        try:
            data = base64.b64decode(raw or "", validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if not data:
            raise refuse("An attachment's contents are missing from the Bundle.")
        sha1 = base64.b64encode(hashlib.sha1(data).digest()).decode()
        if (a.get("size") is not None and int(a["size"]) != len(data)) or (
                a.get("hash") and a["hash"] != sha1):
            raise refuse("An attachment's contents do not match its size or hash.")
        content_type = sniff_type(data)
        if content_type is None or len(data) > get_settings().max_attachment_bytes:
            raise refuse("An attachment is of a kind or size this app does not accept.")
        try:
            name = clean_display_name(a.get("title") or f"attachment{EXTENSIONS[content_type][0]}")
        except ValidationError as error:
            raise refuse(str(error)) from None
        if Path(name).suffix.lower() not in EXTENSIONS[content_type]:
            raise refuse(f"The attachment “{name}” has a name that does not match its contents.")
        return PlannedFile(name=name, content_type=content_type, data=data,
                     created_at=parse_instant(a["creation"]) if a.get("creation") else None)
