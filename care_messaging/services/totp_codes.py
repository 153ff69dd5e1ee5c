"""Checking a TOTP code (RFC 6238) once: a code that was accepted is never accepted again.

``pyotp.TOTP.verify(valid_window=1)`` takes the previous, current and next 30-second step, so
one code stays good for up to 90 s; someone who sees it typed (or reads it off a screen share)
could use it again. The step of the last accepted code is stored on the user and any code of
that step or an earlier one is refused.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

from care_messaging.models import User, utcnow

VALID_WINDOW = 1  # steps either side of now (clock drift between phone and server)


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code equals ``code`` within the window, else None."""
    code = str(code).strip()
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(at)
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def accept_code(user: User, secret: str | None, code: str, at: datetime | None = None) -> bool:
    """True when ``code`` is valid now and newer than the last accepted one; records its step.

    The caller commits (the step must be stored in the same transaction as what the code
    allowed)."""
    if not secret:
        return False
    step = matching_step(secret, code, at or utcnow())
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True
