"""The Bundle an export builds: its Patient and Practitioner entries (one per person), the
thread entries in order, the Binaries, and the Bundle around them (services/fhir_export.py
fills it; the import reads ``NO_TEXT_TAG`` to refuse a Bundle exported without text).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from care_messaging.models import Patient, User, utcnow
from care_messaging.services.fhir_mapping import (
    PATIENT_ID_SYSTEM,
    PROVIDER_EMAIL_SYSTEM,
    instant,
)

# Bundle.meta.tag of an export made without message text: such a Bundle is a report, and
# importing it would create empty messages, so the import refuses it.
NO_TEXT_TAG = {"system": "urn:care-messaging:export", "code": "no-text",
               "display": "Exported without message text"}

def new_url() -> tuple[str, str]:
    ident = str(uuid.uuid4())
    return ident, f"urn:uuid:{ident}"


@dataclass
class ExportBundle:
    """Entries in the order a reader expects them: people first, then each thread."""

    session: Session
    with_text: bool
    people: list[dict[str, Any]] = field(default_factory=list)
    threads: list[dict[str, Any]] = field(default_factory=list)
    binaries: list[dict[str, Any]] = field(default_factory=list)
    urls: dict[int, str] = field(default_factory=dict)  # user id -> fullUrl
    messages: int = 0
    files: int = 0

    def person(self, user: User, patient: Patient | None) -> dict[str, str]:
        if user.id not in self.urls:
            ident, url = new_url()
            if patient is not None:
                name: dict[str, Any] = {"family": patient.last_name, "given": [patient.first_name]}
                resource: dict[str, Any] = {
                    "resourceType": "Patient", "id": ident,
                    "identifier": [{"system": PATIENT_ID_SYSTEM, "value": patient.mrn}],
                    "name": [name]}
                if patient.date_of_birth:
                    resource["birthDate"] = patient.date_of_birth.isoformat()
            else:
                resource = {
                    "resourceType": "Practitioner", "id": ident,
                    "identifier": [{"system": PROVIDER_EMAIL_SYSTEM, "value": user.email}],
                    "name": [{"text": user.display_name}]}
            self.people.append({"fullUrl": url, "resource": resource})
            self.urls[user.id or 0] = url
        kind = "Patient" if patient is not None else "Practitioner"
        return {"reference": self.urls[user.id or 0], "type": kind}

    def add(self, resource: dict[str, Any]) -> str:
        ident, url = new_url()
        self.threads.append({"fullUrl": url, "resource": {**resource, "id": ident}})
        return url

    def as_dict(self, *, patient_tag: bool = False) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "collection",
            "timestamp": instant(utcnow()),
            "entry": [*self.people, *self.threads, *self.binaries]}
        if not self.with_text:
            bundle["meta"] = {"tag": [NO_TEXT_TAG]}
        return bundle


def concept(system: str, code: str, display: str = "") -> dict[str, Any]:
    item = {"system": system, "code": code}
    if display:
        item["display"] = display
    return {"coding": [item]}
