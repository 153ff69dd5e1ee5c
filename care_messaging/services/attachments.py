"""Attachments: checked on content, stored encrypted outside any web root, served by a route.

The type is decided by the file's first bytes (magic numbers), never by its name or by what
the browser claims. Files live under ``settings.attachment_dir`` with random names, encrypted
with AES-GCM bound to their conversation; nothing is ever written under Reflex's upload folder.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import unicodedata
import zipfile
from pathlib import Path

from sqlmodel import Session

from care_messaging import crypto
from care_messaging.models import Attachment, Conversation, Message, Role
from care_messaging.services import audit
from care_messaging.services.access import access_conversation
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome
from care_messaging.services.errors import NotFoundError, ValidationError
from care_messaging.services.message_revisions import MessageState, message_state
from care_messaging.settings import get_settings

ALLOWED_DESCRIPTION = "photos (JPEG, PNG, GIF, WebP), PDF and Word (.docx) documents"
INVALID_ATTACHMENT = "Attachment not found."
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f]")
# The name a file is saved under must agree with what its bytes are: a PNG called
# ``notes.html`` (or an HTML/PNG polyglot) must not land on a disk with an executable name.
EXTENSIONS = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
}


def sniff_type(data: bytes) -> str | None:
    """The MIME type the bytes really are, for the allowed kinds; None otherwise."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"PK\x03\x04") and _is_docx(data):
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    return None


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return False
    return "[Content_Types].xml" in names and "word/document.xml" in names


def clean_display_name(filename: str) -> str:
    """The name shown to users; path tricks are refused rather than silently rewritten."""
    name = unicodedata.normalize("NFC", str(filename or "")).strip()
    if not name:
        raise ValidationError("The file needs a name.")
    if "/" in name or "\\" in name or ".." in name or _UNSAFE_NAME.search(name):
        raise ValidationError(
            "That file name is not allowed (it contains a path or special characters). "
            "Rename the file and try again."
        )
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 110] + dot + ext[:9]) if dot else name[:120]
    return name


def _storage_path(stored_name: str) -> Path:
    return get_settings().attachment_dir / stored_name


def store_upload(
    session: Session, *, actor: Actor, conversation_id: int, filename: str, data: bytes
) -> Attachment:
    """Validate and store one upload for a conversation the actor may see.

    Any rejection raises ValidationError (or NotFoundError) and leaves no row and no file.
    """
    conversation = access_conversation(session, actor=actor, conversation_id=conversation_id,
                                       action=Action.ATTACHMENT_UPLOAD)
    limit = get_settings().max_attachment_bytes

    def refuse(message: str, why: str) -> ValidationError:
        # One audit row per refusal, on a session of its own: nothing else is stored.
        audit.record_apart(session, actor=actor, action=Action.ATTACHMENT_UPLOAD,
                           outcome=Outcome.REJECTED, object_type="conversation",
                           object_id=conversation.id or "", patient_id=conversation.patient_id,
                           detail=why)
        return ValidationError(message)

    try:
        display_name = clean_display_name(filename)
    except ValidationError as error:
        raise refuse(str(error), "file name not allowed") from None
    if not data:
        raise refuse("That file is empty.", "empty file")
    if len(data) > limit:
        raise refuse(f"“{display_name}” is too large: the limit is {limit // (1024 * 1024)} MB.",
                     "too large")
    content_type = sniff_type(data)
    if content_type is None:
        raise refuse(
            f"“{display_name}” can't be attached. You can attach {ALLOWED_DESCRIPTION}.",
            "type not allowed",
        )
    extension = Path(display_name).suffix.lower()
    if extension not in EXTENSIONS[content_type]:
        raise refuse(
            f"“{display_name}” can't be attached: its name does not match its contents. "
            f"Rename it to end in {EXTENSIONS[content_type][0]} and try again.",
            "name does not match contents",
        )
    stored_name = secrets.token_hex(16)
    path = _storage_path(stored_name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    attachment = Attachment(
        conversation_id=conversation.id or 0, uploader_user_id=actor.user_id,
        display_name=display_name, stored_name=stored_name, content_type=content_type,
        size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), key_id="",
    )
    try:
        session.add(attachment)
        session.flush()  # the id, which the file's ciphertext is bound to
        blob, attachment.key_id = crypto.encrypt(
            data, aad=crypto.attachment_aad(conversation.id or 0, attachment.id or 0))
        path.write_bytes(blob)
        session.add(attachment)
        audit.record(session, actor=actor, action=Action.ATTACHMENT_UPLOAD,
                     outcome=Outcome.SUCCESS, object_type="attachment",
                     object_id=attachment.id or "", patient_id=conversation.patient_id,
                     detail=f"{content_type} {len(data)} bytes")
        session.flush()
    except BaseException:
        path.unlink(missing_ok=True)  # nothing half-stored (the caller's unit rolls back)
        raise
    return attachment


def discard_upload(session: Session, *, actor: Actor, attachment_id: int) -> None:
    """Remove an upload the actor made that has not been sent yet."""
    attachment = session.get(Attachment, attachment_id) if isinstance(attachment_id, int) else None
    if attachment is None or attachment.uploader_user_id != actor.user_id or attachment.message_id:
        audit.record_apart(session, actor=actor, action=Action.ATTACHMENT_DISCARD,
                           outcome=Outcome.DENIED, object_type="attachment",
                           object_id=attachment_id)
        raise NotFoundError(INVALID_ATTACHMENT)
    conversation = session.get(Conversation, attachment.conversation_id)
    session.delete(attachment)
    audit.record(session, actor=actor, action=Action.ATTACHMENT_DISCARD, outcome=Outcome.SUCCESS,
                 object_type="attachment", object_id=attachment_id,
                 patient_id=conversation.patient_id if conversation else None)
    session.flush()  # the row is gone (or this raised) before the file goes
    _storage_path(attachment.stored_name).unlink(missing_ok=True)


def read_stored(attachment: Attachment) -> bytes:
    """The decrypted, digest-checked bytes of a stored file, for a caller that has already
    checked access and audits its own use (the FHIR export). Raises TamperedDataError."""
    try:
        blob = _storage_path(attachment.stored_name).read_bytes()
    except OSError:
        raise crypto.TamperedDataError("attachment file missing") from None
    data = crypto.decrypt(blob, aad=crypto.attachment_aad(attachment.conversation_id,
                                                          attachment.id or 0),
                          key_id=attachment.key_id)
    if hashlib.sha256(data).hexdigest() != attachment.sha256:
        raise crypto.TamperedDataError("attachment digest mismatch")
    return data


def open_attachment(session: Session, *, actor: Actor, attachment_id: int) -> tuple[Attachment, bytes]:
    """Decrypt an attachment for someone who may see its conversation (audited either way).

    Unsent uploads are visible only to their uploader. A retracted message's files are no
    longer served to the patient side (its sender included, when that is the patient): the
    same "not found" as for a file that does not exist, audited as denied. Providers on the
    care team still open them from the message's history: the record keeps them, like the
    original text (services/message_changes.message_history); audited as such.
    """
    attachment = session.get(Attachment, attachment_id) if isinstance(attachment_id, int) else None
    if attachment is None:
        audit.record_apart(session, actor=actor, action=Action.ATTACHMENT_DOWNLOAD,
                           outcome=Outcome.DENIED, object_type="attachment",
                           object_id=attachment_id)
        raise NotFoundError(INVALID_ATTACHMENT)
    try:
        conversation = access_conversation(session, actor=actor,
                                           conversation_id=attachment.conversation_id,
                                           action=Action.ATTACHMENT_DOWNLOAD)
    except NotFoundError:
        raise NotFoundError(INVALID_ATTACHMENT) from None
    if attachment.message_id is None and attachment.uploader_user_id != actor.user_id:
        audit.record_apart(session, actor=actor, action=Action.ATTACHMENT_DOWNLOAD,
                           outcome=Outcome.DENIED, object_type="attachment",
                           object_id=attachment_id)
        raise NotFoundError(INVALID_ATTACHMENT)
    retracted = _of_retracted_message(session, attachment)
    if retracted and actor.role != Role.PROVIDER:
        audit.record_apart(session, actor=actor, action=Action.ATTACHMENT_DOWNLOAD,
                           outcome=Outcome.DENIED, object_type="attachment",
                           object_id=attachment_id, patient_id=conversation.patient_id,
                           detail="message retracted")
        raise NotFoundError(INVALID_ATTACHMENT)
    try:
        blob = _storage_path(attachment.stored_name).read_bytes()
        data = crypto.decrypt(blob, aad=crypto.attachment_aad(conversation.id or 0,
                                                              attachment.id or 0),
                              key_id=attachment.key_id)
        if hashlib.sha256(data).hexdigest() != attachment.sha256:
            raise crypto.TamperedDataError("attachment digest mismatch")
    except (OSError, crypto.TamperedDataError):
        audit.record_apart(session, actor=actor, action=Action.ATTACHMENT_DOWNLOAD,
                           outcome=Outcome.FAILURE, object_type="attachment",
                           object_id=attachment.id or "", patient_id=conversation.patient_id,
                           detail="stored file missing or failed verification")
        raise crypto.TamperedDataError("attachment failed verification") from None
    audit.record(session, actor=actor, action=Action.ATTACHMENT_DOWNLOAD, outcome=Outcome.SUCCESS,
                 object_type="attachment", object_id=attachment.id or "",
                 patient_id=conversation.patient_id,
                 detail="from the record of a retracted message" if retracted else "")
    return attachment, data


def _of_retracted_message(session: Session, attachment: Attachment) -> bool:
    """Whether the file belongs to a message that was retracted (message_state decides)."""
    if attachment.message_id is None:
        return False
    message = session.get(Message, attachment.message_id)
    return message is not None and message_state(message) == MessageState.RETRACTED
