"""Addresses that cross between the pages and the backend.

On the single-port server (the default) both are one origin and every address stays relative,
exactly as before. Split (``reflex run`` in development, or ``reflex export`` served by a static
server with the backend elsewhere: ``CARE_BACKEND_ORIGIN``), the pages must post the sign-in
and sign-out forms to the backend and link attachments there, and the backend must send the
browser back to the pages (``CARE_PUBLIC_ORIGIN``) after signing in or out.
"""

from __future__ import annotations

from care_messaging.settings import get_settings


def backend_url(path: str) -> str:
    """``path`` on the backend: relative on one origin, absolute when split."""
    settings = get_settings()
    return settings.backend_url + path if settings.split_origin else path


def frontend_url(path: str) -> str:
    """``path`` on the pages' origin: relative on one origin, absolute when split."""
    settings = get_settings()
    return settings.public_origin + path if settings.split_origin else path


LOGIN_ACTION = "/api/auth/login"
LOGOUT_ACTION = "/api/auth/logout"


def attachment_href(attachment_id: int, *, download: bool = False) -> str:
    return backend_url(f"/api/attachments/{attachment_id}" + ("?download=1" if download else ""))


def page_referrer_policy() -> str:
    """The pages' referrer policy. On one origin, ``same-origin``: nothing leaves. Split, the
    sign-in and sign-out forms post to the backend's origin, and under ``same-origin`` the
    browser sends ``Origin: null`` with them, which the login CSRF check must refuse;
    ``strict-origin`` sends our origin (never a path or query) and nothing over plain HTTP
    from an HTTPS page."""
    return "strict-origin" if get_settings().split_origin else "same-origin"
