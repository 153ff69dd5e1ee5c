"""Finding a patient to write to: the New Message picker's server-side search.

Only patients the provider may see (``access.visible_patient_ids``: their care teams) are ever
searched, and a page of matches is returned, never the whole panel: a provider on a team of
2,000 patients gets the first ``limit`` matches and how many there are in all. Each match
carries the date of birth so that two patients with the same name can be told apart.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, or_
from sqlmodel import Session, col, select

from care_messaging.models import Patient, Role, table_of
from care_messaging.services.access import visibility_scope, visible_patient_ids_bound
from care_messaging.services.actors import Actor

PICKER_LIMIT = 20
MAX_QUERY_CHARS = 100
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")


@dataclass(frozen=True)
class PatientMatch:
    id: int
    name: str
    mrn: str
    date_of_birth: date | None


@dataclass(frozen=True)
class PatientMatches:
    rows: list[PatientMatch]
    total: int


def parse_birth_date(term: str) -> date | None:
    """A date of birth typed as 1950-03-04 or 03/04/1950, else None."""
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(term, fmt).date()
        except ValueError:
            continue
    return None


@functools.lru_cache(maxsize=8)
def _statements(scope: str, searching: bool) -> Any:
    """The page and the count, built once per kind of actor and search (values bound later)."""
    query = select(Patient).where(col(Patient.id).in_(visible_patient_ids_bound(scope)))
    if searching:
        like: Any = bindparam("like")
        query = query.where(or_(
            func.lower(Patient.first_name + " " + Patient.last_name).like(like, escape="\\"),
            func.lower(Patient.last_name + " " + Patient.first_name).like(like, escape="\\"),
            func.lower(Patient.last_name + ", " + Patient.first_name).like(like, escape="\\"),
            func.lower(Patient.mrn).like(like, escape="\\"),
            col(Patient.date_of_birth) == bindparam("born", type_=table_of(Patient).c.date_of_birth.type),
        ))
    page = (query.order_by(col(Patient.last_name), col(Patient.first_name), col(Patient.id))
            .limit(bindparam("limit")))
    total = select(func.count()).select_from(query.subquery())
    return page, total


def search_patients(session: Session, *, actor: Actor, query: str = "",
                    limit: int = PICKER_LIMIT) -> PatientMatches:
    """The actor's patients matching ``query`` (name in either order, patient ID, or a date of
    birth), alphabetical, at most ``limit`` of them, with the number of all matches."""
    if actor.role != Role.PROVIDER:
        return PatientMatches(rows=[], total=0)  # only providers write to a chosen patient
    term = re.sub(r"\s+", " ", (query or "").strip().lower())[:MAX_QUERY_CHARS]
    scope, params = visibility_scope(actor)
    page, total = _statements(scope, bool(term))
    values: dict[str, Any] = {**params, "limit": max(1, min(int(limit), 100))}
    if term:
        # Typed % and _ are letters here, not wildcards.
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        values["like"] = f"%{escaped}%"
        values["born"] = parse_birth_date(term)
    rows = session.exec(page, params=values).all()
    count = session.exec(total, params=values).one()
    return PatientMatches(
        rows=[PatientMatch(id=p.id or 0, name=p.full_name, mrn=p.mrn,
                           date_of_birth=p.date_of_birth) for p in rows],
        total=int(count),
    )
