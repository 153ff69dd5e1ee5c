"""The vocabulary shared by the FHIR R4 export and import: identifier systems, code maps,
times, and the one place where a message's FHIR status is decided.

Validation uses ``fhir.resources``' R4B models (FHIR 4.3.0). The only release of that
package with plain R4 (4.0.1) models is 6.x, which needs pydantic 1, and this app (Reflex,
SQLModel) runs on pydantic 2. The resources exported here (Bundle, Communication, Patient,
Practitioner, Binary, Attachment) did not change between R4 and R4B, so a Bundle that
validates as R4B is the same R4 Bundle.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError as PydanticValidationError

from care_messaging.models import Category, ConversationStatus, Medium, Priority
from care_messaging.services.errors import ValidationError

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
CONVERSATION_STATUS = {
    ConversationStatus.ACTIVE: "in-progress",
    ConversationStatus.NEEDS_ATTENTION: "on-hold",
    ConversationStatus.COMPLETED: "completed",
}
# Our order is routine < high < urgent; FHIR's is routine < urgent < asap < stat. Rank for
# rank, so that our highest level is the receiver's higher one too.
PRIORITY = {Priority.ROUTINE: "routine", Priority.HIGH: "urgent", Priority.URGENT: "asap"}
PRIORITY_BACK = {"routine": Priority.ROUTINE, "urgent": Priority.HIGH, "asap": Priority.URGENT,
                 "stat": Priority.URGENT}
MEDIUM_MODE = {Medium.SECURE_MESSAGE: ("ONLINEWRIT", "online written"),
               Medium.PORTAL: ("ONLINEWRIT", "online written"),
               Medium.PHONE: ("PHONE", "telephone"),
               Medium.EMAIL: ("EMAILWRIT", "email")}
CATEGORIES = {c.value for c in Category}
MEDIUMS = {m.value for m in Medium}
STATUSES = {s.value for s in ConversationStatus}


def message_status(*, tampered: bool = False) -> str:
    """A message's Communication.status. Every stored message is a completed communication;
    retracted or corrected messages (a later change) will map to ``entered-in-error`` here."""
    return "unknown" if tampered else "completed"


IMPORTABLE_MESSAGE_STATUSES = {"completed"}


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
