"""The vocabulary shared by the FHIR R4 export and import: identifier systems, code maps,
times, the one place where a message's FHIR status is decided (from ``message_state``),
and how retractions and corrections travel (Provenance; see DATA_OPERATION below).

Validation uses ``fhir.resources``' R4B models (FHIR 4.3.0). The only release of that
package with plain R4 (4.0.1) models is 6.x, which needs pydantic 1, and this app (Reflex,
SQLModel) runs on pydantic 2. The resources exported here (Bundle, Communication, Patient,
Practitioner, Binary, Attachment; and Provenance's target, recorded, activity, agent.who and
entity role/what) did not change between R4 and R4B, so a Bundle that validates as R4B is the
same R4 Bundle.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError as PydanticValidationError

from care_messaging.models import Category, ConversationStatus, Medium, Priority
from care_messaging.services.errors import ValidationError
from care_messaging.services.message_revisions import MessageState, message_state

# Who is who across systems: a patient by the human-readable patient ID, a provider by the
# sign-in email (both unique here and stable across a re-install, unlike row ids).
PATIENT_ID_SYSTEM = "urn:care-messaging:patient-id"
PROVIDER_EMAIL_SYSTEM = "urn:care-messaging:provider-email"
# The id the sender's browser gave a message: unique per sender, so importing the same Bundle
# twice is refused instead of doubling the record.
CLIENT_MESSAGE_ID_SYSTEM = "urn:care-messaging:client-message-id"
# This app's own codes, exactly (FHIR's value sets are coarser: see the maps below).
STATUS_SYSTEM = "urn:care-messaging:conversation-status"
CATEGORY_SYSTEM = "urn:care-messaging:category"
MEDIUM_SYSTEM = "urn:care-messaging:medium"
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"

# Conversation status -> Communication.status (EventStatus); the exact status travels in
# statusReason under STATUS_SYSTEM.
# Keyed by str (the stored value) like the maps below.
CONVERSATION_STATUS: dict[str, str] = {
    ConversationStatus.ACTIVE: "in-progress",
    ConversationStatus.NEEDS_ATTENTION: "on-hold",
    ConversationStatus.COMPLETED: "completed",
}
# Our order is routine < high < urgent; FHIR's is routine < urgent < asap < stat. Rank for
# rank, so that our highest level is the receiver's higher one too.
PRIORITY: dict[str, str] = {Priority.ROUTINE: "routine", Priority.HIGH: "urgent", Priority.URGENT: "asap"}
PRIORITY_BACK = {"routine": Priority.ROUTINE, "urgent": Priority.HIGH, "asap": Priority.URGENT,
                 "stat": Priority.URGENT}
# Keyed by str: a row's medium is the stored string (a Medium value).
MEDIUM_MODE: dict[str, tuple[str, str]] = {Medium.SECURE_MESSAGE: ("ONLINEWRIT", "online written"),
               Medium.PORTAL: ("ONLINEWRIT", "online written"),
               Medium.PHONE: ("PHONE", "telephone"),
               Medium.EMAIL: ("EMAILWRIT", "email")}
CATEGORIES = {c.value for c in Category}
MEDIUMS = {m.value for m in Medium}
STATUSES = {s.value for s in ConversationStatus}


# A message's Communication.status, from its state (services/message_revisions.py): the one
# definition. Nothing is deleted: a retracted message, and the original of a corrected one,
# stay in the Bundle with their text, marked ``entered-in-error`` (FHIR's "created in error,
# treat as though it never existed" - what "retracted" and "replaced" mean to a reader).
MESSAGE_STATUS = {
    MessageState.ACTIVE: "completed",
    MessageState.RETRACTED: "entered-in-error",
    MessageState.CORRECTED: "entered-in-error",
}


def message_status(message: object, *, tampered: bool = False) -> str:
    """A message's Communication.status (``unknown`` when its text failed authentication:
    the export cannot vouch for it, and the import refuses it)."""
    return "unknown" if tampered else MESSAGE_STATUS[message_state(message)]


def correction_status(message: object, *, latest: bool, tampered: bool = False) -> str:
    """The status of the Communication a correction becomes: ``completed`` for the text the
    message says now (its latest correction, unless retracted since); an earlier correction,
    superseded by a later one, and any correction of a retracted message are in error too."""
    if tampered:
        return "unknown"
    return ("completed" if latest and message_state(message) == MessageState.CORRECTED
            else "entered-in-error")


IMPORTABLE_MESSAGE_STATUSES = {"completed", "entered-in-error"}

# How a correction is linked to the message it corrects, and how a retraction carries its time
# and author. Communication has no element for "this replaces that" (``basedOn`` is the order
# a communication fulfils, ``inResponseTo`` a reply, ``partOf`` already names the thread), so
# each change is a ``Provenance`` - FHIR's resource for who changed what, when, from what:
# - a correction: a Communication (the new text, ``sent`` = the correction time, ``partOf`` the
#   thread like any message) plus a Provenance with ``target`` = that Communication,
#   ``entity`` = [{role "revision", what = the original message's Communication}],
#   ``activity`` = v3-DataOperation UPDATE, ``recorded`` = the correction time, ``agent.who``
#   = the editor;
# - a retraction: a Provenance with ``target`` = the original message (then its corrections),
#   ``activity`` = v3-DataOperation NULLIFY ("treat as though it never existed"),
#   ``recorded`` = the retraction time, ``agent.who`` = who retracted.
# Each correction also carries an identifier ``<client message id>#<revision number>`` under
# REVISION_ID_SYSTEM, so a receiver can tell corrections apart without the Provenance.
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
CORRECT_ACTIVITY = "UPDATE"
RETRACT_ACTIVITY = "NULLIFY"
REVISION_ROLE = "revision"
REVISION_ID_SYSTEM = "urn:care-messaging:message-revision"
STATUS_REASON = {MessageState.RETRACTED: "Retracted by the sender",
                 MessageState.CORRECTED: "Corrected by the sender"}


def instant(value: datetime) -> str:
    """A FHIR instant in UTC. SQLite hands back naive datetimes (stored as UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def parse_instant(value: str) -> datetime:
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValidationError(f"A time in the Bundle has no time zone: {value!r}.")
    return parsed.astimezone(UTC)


def validate_bundle(data: dict[str, Any]) -> Bundle:
    """The Bundle as ``fhir.resources`` models, or ValidationError saying what is wrong."""
    try:
        return Bundle.model_validate(data)
    except (PydanticValidationError, ValueError, TypeError) as error:
        first = str(error).splitlines()
        raise ValidationError("This file is not a valid FHIR R4 Bundle: "
                              + " ".join(first[:3])[:300]) from None


def coding(concept: dict[str, Any] | None, system: str) -> str | None:
    """The code under ``system`` in a CodeableConcept (dict), if any."""
    for item in (concept or {}).get("coding", []) or []:
        if item.get("system") == system:
            return str(item["code"]) if item.get("code") is not None else None
    return None


def identifier(resource: dict[str, Any], system: str) -> str | None:
    for item in resource.get("identifier", []) or []:
        if item.get("system") == system and item.get("value"):
            return str(item["value"])
    return None
