"""Where people land: each role's home page, and the page to return to after signing in.

Plain Python (no Reflex, no Starlette): the pages' guards and the sign-in route share it.

The page to return to travels as ``?next=`` through the sign-in form, so it is attacker
controlled. Only a path of one of this app's own pages is accepted (never a scheme, a host, a
``//`` or ``\\`` that a browser would read as another site, nor control characters); anything
else is dropped and the user lands on their role's home page: no open redirect.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from care_messaging.models import Role

LOGIN_PATH = "/login"
# Each role's home page: the one map (sign-in, guards, emails' links, "back" links read it).
LANDING: dict[str, str] = {Role.PROVIDER: "/dashboard", Role.PATIENT: "/portal",
                           Role.ADMIN: "/admin"}
# The pages a sign-in may return to (the signed-in pages; a wrong role is sent on to its own
# landing page by the page's guard as usual).
RETURN_PAGES = frozenset({"/dashboard", "/patients", "/portal", "/portal/help", "/account",
                          "/admin", "/search", "/response-times"})
# Which of them each role may be sent back to: a sign-in link for someone else's kind of page
# lands on the user's own home instead of bouncing through a guard.
ROLE_PAGES = {
    "provider": frozenset({"/dashboard", "/patients", "/account", "/search",
                           "/response-times"}),
    "patient": frozenset({"/portal", "/portal/help", "/account", "/search"}),
    "admin": frozenset({"/admin", "/account", "/response-times"}),
}
MAX_NEXT_CHARS = 300


def landing_for(role: str) -> str:
    return LANDING.get(role, LOGIN_PATH)


def safe_next_path(value: object) -> str:
    """``value`` when it is a path (and query) of one of our own pages, else ""."""
    text = str(value or "")
    if not text or len(text) > MAX_NEXT_CHARS or not text.startswith("/"):
        return ""
    if text.startswith("//") or "\\" in text or any(ord(c) < 0x21 or ord(c) == 0x7F
                                                    for c in text):
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme or parts.netloc:
        return ""
    path = parts.path.rstrip("/") or "/"
    if path not in RETURN_PAGES:
        return ""
    return path + (f"?{parts.query}" if parts.query else "")


def after_sign_in(role: str, next_path: object = "") -> str:
    """Where a user who just signed in goes: the page they asked for when it is one of their
    role's pages, else their home."""
    safe = safe_next_path(next_path)
    if safe and urlsplit(safe).path.rstrip("/") in ROLE_PAGES.get(role, frozenset()):
        return safe
    return landing_for(role)


def login_url(*, notice: str = "", next_path: object = "", **extra: str) -> str:
    """The sign-in page, with a notice code ("expired", "signed_out") and the page to return
    to (only when it is safe)."""
    params = {key: value for key, value in extra.items() if value}
    if notice:
        params["reason"] = notice
    safe = safe_next_path(next_path)
    if safe:
        params["next"] = safe
    return LOGIN_PATH + (f"?{urlencode(params)}" if params else "")
