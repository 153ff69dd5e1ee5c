"""A FHIR R4 Bundle made by ``fhir_export`` back into conversations.

Two phases: first the whole Bundle is read into a plan (valid FHIR, people matched by
identifier: the patient by patient ID, providers by email; the patient one the importing
provider may see; every message and file checked like a send and an upload), then the plan
is written in one transaction (retractions and corrections included:
services/fhir_revisions.py). Files are written only in the second phase and removed again
if anything fails, so a refused or failed import leaves no row and no file, only its audit row.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, select

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
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import NotFoundError, ServiceError
from care_messaging.services.fhir_import_reader import BundleReader, PlannedThread, refuse
from care_messaging.services.fhir_revisions import (
    searchable_after,
    write_changes,
)
from care_messaging.services.search import index_message
from care_messaging.settings import get_settings


@dataclass(frozen=True)
class ImportReport:
    conversation_ids: list[int]
    messages: int
    attachments: int


def _write_thread(session: Session, patient: Patient, thread: PlannedThread,
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
        raise refuse("This file is not JSON.") from None
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise refuse("This file is not a FHIR Bundle.")
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
        reader = BundleReader(session, actor, _load(raw))
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
            error = refuse("This Bundle has already been imported (its messages exist).")
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
