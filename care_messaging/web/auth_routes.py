"""HTTP routes for signing in and out.

Sign-in is a plain HTML form POST: the route checks the password, opens a server-side session
and sets its token as an HttpOnly, SameSite=Strict cookie, then redirects to the user's landing
page. The token never passes through Reflex state, so the browser's state tree never holds it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from care_messaging.db import session_scope
from care_messaging.services import auth
from care_messaging.services.errors import AuthenticationError, SessionInvalidError
from care_messaging.settings import get_settings

LANDING = {"provider": "/dashboard", "patient": "/portal", "admin": "/admin"}


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
    response = RedirectResponse(path, status_code=303)
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


async def login_route(request: Request) -> Response:
    if not same_origin(request):
        return _redirect("/login?" + urlencode({"error": "invalid"}))
    form = await request.form()
    email = str(form.get("email", ""))[:254]
    password = str(form.get("password", ""))[:1024]
    code = str(form.get("code", ""))[:12]
    try:
        with session_scope() as session:
            result = auth.login(
                session, email=email, password=password, totp_code=code, client_ip=client_ip(request)
            )
            if result.needs_totp:
                step = {"step": "totp", "email": email}
                if form.get("next"):
                    step["next"] = str(form.get("next"))[:64]
                return _redirect("/login?" + urlencode(step))
            token, role = auth.exchange_handoff(session, ticket=result.ticket)
    except AuthenticationError as exc:
        error = "locked" if str(exc) == auth.LOCKED_ERROR else "invalid"
        params = {"error": error, "email": email}
        if code:
            params["step"] = "totp"
        return _redirect("/login?" + urlencode(params))
    except SessionInvalidError:
        return _redirect("/login?" + urlencode({"error": "invalid"}))
    response = _redirect(auth.safe_next(form.get("next"), role) or LANDING.get(role, "/login"))
    set_session_cookie(response, token)
    return response


async def logout_route(request: Request) -> Response:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if same_origin(request):
        with session_scope() as session:
            auth.logout(session, token=token, client_ip=client_ip(request))
    response = _redirect("/login?" + urlencode({"reason": "signed_out"}))
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


async def health_route(_request: Request) -> Response:
    return Response("ok", media_type="text/plain")


routes = [
    Route("/api/auth/login", login_route, methods=["POST"]),
    Route("/api/auth/logout", logout_route, methods=["POST"]),
    Route("/api/health", health_route, methods=["GET"]),
]
