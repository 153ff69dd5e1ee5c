"""HTTP routes for signing in and out.

Sign-in is a plain HTML form POST: the route checks the password, opens a server-side session
and sets its token as an HttpOnly, SameSite=Strict cookie, then redirects to the page the user
asked for before signing in (only one of our own pages: navigation.safe_next_path) or their
landing page. The token never passes through Reflex state, so the browser's state tree never
holds it. The app's address, ``/``, is answered here too: sign-in or the landing page.

The password check (argon2id) and its database writes run in a bounded thread pool
(``offloop``), never on the event loop that carries every websocket. Before any of that, an
address that has failed too often is answered at once (``login_limits``). The typed email never
goes into a redirect address (history, proxy logs, Referer): to fill the form in again, it
rides back in a short-lived HttpOnly cookie that only the server reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from care_messaging.db import session_scope
from care_messaging.navigation import after_sign_in, landing_for, login_url
from care_messaging.services import auth
from care_messaging.services.errors import AuthenticationError, SessionInvalidError
from care_messaging.settings import get_settings
from care_messaging.state.tab_owner import wipe_session_tabs
from care_messaging.web import offloop
from care_messaging.web.login_limits import source_limiter
from care_messaging.web.origins import frontend_url

# The email typed into the sign-in form, kept for the next form (TOTP step, retry) only.
EMAIL_COOKIE = "care_login_email"
EMAIL_COOKIE_SECONDS = 300


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def same_origin(request: Request) -> bool:
    """Reject cross-site form posts (login CSRF): Origin, when sent, must be ours."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin in {*get_settings().allowed_origins, f"http://{host}", f"https://{host}"}


def _redirect(path: str) -> RedirectResponse:
    """To one of the app's pages (on the pages' origin when the backend is elsewhere)."""
    response = RedirectResponse(frontend_url(path), status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


def set_session_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        auth.SESSION_COOKIE,
        token,
        max_age=settings.absolute_session_seconds,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        path="/",
    )


def _back_to_form(email: str, next_path: str, **params: str) -> RedirectResponse:
    response = _redirect(login_url(next_path=next_path, **params))
    if email:
        response.set_cookie(EMAIL_COOKIE, quote(email, safe="@"), max_age=EMAIL_COOKIE_SECONDS,
                            httponly=True, secure=get_settings().cookie_secure,
                            samesite="strict", path="/")
    return response


@dataclass(frozen=True)
class _Outcome:
    token: str = ""
    role: str = ""
    needs_totp: bool = False
    error: str = ""  # "invalid" | "locked"


def _sign_in(email: str, password: str, code: str, ip: str) -> _Outcome:
    """The blocking part (argon2, database): runs in the sign-in thread pool."""
    try:
        with session_scope() as session:
            result = auth.login(session, email=email, password=password, totp_code=code,
                                client_ip=ip)
            if result.needs_totp:
                return _Outcome(needs_totp=True)
            token, role = auth.exchange_handoff(session, ticket=result.ticket)
            return _Outcome(token=token, role=role)
    except AuthenticationError as exc:
        return _Outcome(error="locked" if str(exc) == auth.LOCKED_ERROR else "invalid")
    except SessionInvalidError:
        return _Outcome(error="invalid")


async def login_route(request: Request) -> Response:
    if not same_origin(request):
        return _redirect(login_url(error="invalid"))
    ip = client_ip(request)
    form = await request.form()
    email = str(form.get("email", ""))[:254]
    password = str(form.get("password", ""))[:1024]
    code = str(form.get("code", ""))[:12]
    next_path = str(form.get("next", ""))  # checked by navigation.safe_next_path
    limiter = source_limiter()
    if await limiter.blocked(ip):
        return _back_to_form(email, next_path, error="locked")
    try:
        outcome = await offloop.run_sign_in(_sign_in, email, password, code, ip)
    except offloop.Busy:
        return _back_to_form(email, next_path, error="busy")
    if outcome.needs_totp:
        return _back_to_form(email, next_path, step="totp")
    if outcome.error:
        await limiter.failed(ip)
        return _back_to_form(email, next_path, error=outcome.error, step="totp" if code else "")
    response = _redirect(after_sign_in(outcome.role, next_path))
    set_session_cookie(response, outcome.token)
    response.delete_cookie(EMAIL_COOKIE, path="/")
    return response


def _logout(token: str | None, ip: str) -> None:
    with session_scope() as session:
        auth.logout(session, token=token, client_ip=ip)


async def logout_route(request: Request) -> Response:
    if not same_origin(request):
        # A cross-site form: change nothing (the cookie and the server session both stay), or
        # any page on the web could sign a clinician out mid-task.
        return PlainTextResponse("Cross-site request refused.", status_code=403,
                                 headers={"Cache-Control": "no-store"})
    token = request.cookies.get(auth.SESSION_COOKIE)
    await offloop.run_work(_logout, token, client_ip(request))
    if token:
        # Nothing of this user may stay in the server state of their tabs (the tab's Reflex
        # token outlives the sign-out in the browser).
        await wipe_session_tabs(auth.hash_token(token))
    response = _redirect(login_url(notice="signed_out"))
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    # The browser drops the tab's Reflex token (sessionStorage) and anything a page kept:
    # the next user of this tab starts with a new token, so a new, empty state tree.
    # (Split, this clears the backend origin's storage only; the pages' own sign-out script,
    # assets/outbox.js, drops the tab's token there.)
    response.headers["Clear-Site-Data"] = '"storage"'
    return response


def _home_for(token: str | None, ip: str) -> str:
    with session_scope() as session:
        try:
            actor = auth.resolve_session(session, token=token, client_ip=ip, touch=False)
        except SessionInvalidError:
            return login_url()
    return landing_for(actor.role)


async def root_route(request: Request) -> Response:
    """``/``: the sign-in page when signed out, else the user's landing page (a page of
    its own would be a blank screen)."""
    target = await run_in_threadpool(_home_for, request.cookies.get(auth.SESSION_COOKIE),
                                     client_ip(request))
    return _redirect(target)


async def health_route(_request: Request) -> Response:
    return Response("ok", media_type="text/plain")


routes = [
    Route("/", root_route, methods=["GET", "HEAD"]),
    Route("/api/auth/login", login_route, methods=["POST"]),
    Route("/api/auth/logout", logout_route, methods=["POST"]),
    Route("/api/health", health_route, methods=["GET"]),
]
