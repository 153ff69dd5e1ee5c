"""Audit rows for views of PHI that change nothing: a patient's profile, a page of a
conversation list, the audit trail searched by an administrator.

List views follow the policy in docs/SECURITY.md ("List previews"): one row per list the user
loads or refreshes, saying which list (dashboard, portal, profile, first rows), its filter,
whether a search narrowed it, how many rows it showed and which patients they belong to; not
one row per conversation shown, and never the search words (they may be a name) or a preview.
Live updates that move an already-loaded list are not separate rows: the messages they carry
are audited when sent and when read.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from care_messaging.services import audit
from care_messaging.services.actors import Actor
from care_messaging.services.audit import Action, Outcome


def record_patient_view(session: Session, *, actor: Actor, patient_id: int,
                        what: str = "profile") -> None:
    """A patient's profile (name, date of birth, phone) was shown to ``actor``."""
    audit.record(session, actor=actor, action=Action.PATIENT_VIEW, outcome=Outcome.SUCCESS,
                 object_type="patient", object_id=patient_id, patient_id=patient_id,
                 detail=what)


def _patients(patient_ids: Iterable[int]) -> str:
    ids: list[str] = []
    for pid in patient_ids:
        if str(pid) not in ids:
            ids.append(str(pid))
    text = ",".join(ids)
    # The detail column holds 500 characters: a long page says how many were left out.
    return text if len(text) <= 400 else text[:400].rsplit(",", 1)[0] + ",…"


def record_list_view(session: Session, *, actor: Actor, kind: str, rows: int,
                     patient_ids: Iterable[int] = (), filter_by: str = "",
                     searched: bool = False, patient_id: int | None = None) -> None:
    """One page of a conversation list was shown (see the module's policy)."""
    detail = f"{kind} rows={rows}"
    if filter_by:
        detail += f" filter={filter_by[:20]}"
    if searched:
        detail += " search=yes"
    patients = _patients(patient_ids)
    if patients:
        detail += f" patients={patients}"
    audit.record(session, actor=actor, action=Action.LIST_VIEW, outcome=Outcome.SUCCESS,
                 object_type="conversation_list", object_id=kind, patient_id=patient_id,
                 detail=detail)


def record_audit_search(session: Session, *, actor: Actor, what: str, rows: int) -> None:
    """An administrator read the audit trail (rows name patients' ids and who saw them)."""
    audit.record(session, actor=actor, action=Action.AUDIT_SEARCH, outcome=Outcome.SUCCESS,
                 object_type="audit_events", detail=f"{what} rows={rows}"[:500])
