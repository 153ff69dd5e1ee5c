"""Is a split deployment's frontend on the same *site* as its backend?

The session cookie is HttpOnly and ``SameSite=Strict``: the browser sends it on the websocket,
the sign-in and sign-out posts and attachment downloads only when the page that starts them is
on the same site as the backend (same scheme and registrable domain: ``localhost:3000`` and
``localhost:8000``, or ``app.example.org`` and ``api.example.org``). On unrelated domains it
would never arrive, and every page would look signed out.

We refuse such a setup at start instead of switching to ``SameSite=None``: that would hand the
login-CSRF and cross-site-request protection of the cookie to the Origin checks alone, and
browsers increasingly block third-party cookies altogether (Safari, Firefox's total cookie
protection, Chrome's tracking protection), so it would work for some patients and not for
others. Serve the frontend and the backend under one domain (two subdomains) or from one port.

The registrable domain comes from the public-suffix list, the same list browsers use to decide
what a "site" is (``publicsuffixlist``, which ships a recent copy of the list and needs no
network: hosting platforms such as ``github.io`` make every customer's subdomain a site of its
own there, as in the browser).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

_PUBLIC_SUFFIXES = PublicSuffixList()


class CrossSiteError(RuntimeError):
    """The frontend and backend origins are on different sites."""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def registrable_domain(host: str) -> str:
    """The site a host belongs to: its registrable domain ("eTLD+1")."""
    host = host.lower().rstrip(".")
    if _is_ip(host) or "." not in host:
        return host  # an address or a single label (localhost) is its own site
    # A host that is itself a public suffix (``github.io``) has no registrable domain: it is
    # its own site, and no other host shares it.
    return _PUBLIC_SUFFIXES.privatesuffix(host) or host


def site_of(origin: str) -> tuple[str, str]:
    parts = urlsplit(origin)
    return parts.scheme, registrable_domain(parts.hostname or "")


def check_same_site(frontend_origin: str, backend_origin: str) -> None:
    """Raise ``CrossSiteError`` (a clear message for the start log) when the two origins are
    not one site."""
    if frontend_origin == backend_origin or site_of(frontend_origin) == site_of(backend_origin):
        return
    raise CrossSiteError(
        f"CARE_PUBLIC_ORIGIN ({frontend_origin}) and CARE_BACKEND_ORIGIN ({backend_origin}) "
        "are different sites (scheme and domain): the browser would not send the session "
        "cookie (HttpOnly, SameSite=Strict) from the pages to the backend, so nobody could "
        "stay signed in. Serve both from one domain (e.g. https://app.example.org and "
        "https://api.example.org) or from one port (leave CARE_BACKEND_ORIGIN unset). "
        "Cross-site deployments are not supported (README: Split deployment)."
    )
