"""Who commits: the caller's unit of work, never a service.

A service changes things on the session it is given and at most ``flush()``es (for ids); the
caller that opened the session (``db.session_scope`` for pages and routes, the CLI, a job)
commits once, or rolls back on an error. Two things must outlive a rolled-back unit:

- **refusals** (a denied access, a refused code, a rejected upload): their audit row is written
  on a session of its own (``audit.record_apart``), so it never commits what the caller holds;
- **work that stands although the service raises** (a failed sign-in counted against the
  account, an idle session revoked as it is refused): the service marks its unit with
  ``keep_on_error`` and ``session_scope`` commits before it re-raises.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

_KEEP = "care_keep_on_error"


def keep_on_error(session: Session) -> None:
    """Commit this unit's changes even though the service is about to raise."""
    session.info[_KEEP] = True


def should_keep(session: Session) -> bool:
    """Whether the unit asked to keep its changes on error (and forget the request)."""
    return bool(session.info.pop(_KEEP, False))
