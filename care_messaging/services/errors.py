"""Errors the services raise. Their messages are safe to show to a user."""


class ServiceError(Exception):
    """Base class: ``str(error)`` is a user-facing message that leaks nothing."""


class NotFoundError(ServiceError):
    """The object does not exist *or* the actor may not see it: the two look the same."""


class ValidationError(ServiceError):
    """The input is not acceptable; the message says what to fix."""


class AuthenticationError(ServiceError):
    """Sign-in failed; the message never says whether the account exists."""


class SessionInvalidError(ServiceError):
    """No usable session: missing, expired, idle too long or revoked."""


class SecondStepPendingError(SessionInvalidError):
    """A valid session that still owes two-step sign-in (required, not yet set up): it may
    reach the enrolment page and nothing else, so every other caller treats it as no session."""
class SessionEndedError(SessionInvalidError):
    """A session that existed has ended: timed out (idle or absolute), signed out, or
    revoked (e.g. the account was disabled). ``reason`` says which, so the sign-in page can
    say "Your session ended" only then, and never to someone who simply was not signed in."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
