"""What every request body passes before any route reads it: Reflex's ``/_upload`` included.

Reflex's upload route parses the whole multipart body (Starlette spools each file, past 1 MB
into a plain temporary file on disk) and only then calls the handler, which is where the
session was checked: a 2 GB POST without a cookie was accepted and written to disk. This
middleware, wrapped around the whole app, runs first:

- ``/_upload`` (the POST and the static files Reflex mounts under it): the session cookie must
  name a valid session that owes no second step (``auth.resolve_session``, the same check every
  route uses: idle and absolute expiry, revoked, disabled, two-step sign-in pending), else 403
  before one byte of the body is read.
- Every body is capped: the declared Content-Length is refused with 413 before reading, and the
  bytes actually received are counted (chunked bodies declare nothing), so a body that grows
  past the cap is cut off with 413 too. Uploads may carry ``MAX_PENDING_FILES`` files of
  ``CARE_MAX_ATTACHMENT_BYTES`` plus the multipart framing; anything else (the sign-in form)
  gets 64 KiB.
- Starlette's spooled files stay in memory up to that cap (``spool_max_size``), so no upload is
  ever written unencrypted to a temporary file; the service encrypts it before it is stored.
"""

from __future__ import annotations

from starlette.formparsers import MultiPartParser
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from care_messaging.db import session_scope
from care_messaging.services import auth
from care_messaging.services.errors import SessionInvalidError
from care_messaging.settings import get_settings
from care_messaging.state.attachment_uploads import MAX_PENDING_FILES
from care_messaging.web import offloop

UPLOAD_PATH = "/_upload"
SMALL_BODY_BYTES = 64 * 1024
# Multipart boundaries and part headers for a handful of files, and Reflex's bound-args field.
FORM_OVERHEAD_BYTES = 64 * 1024


def upload_cap() -> int:
    return get_settings().max_attachment_bytes * MAX_PENDING_FILES + FORM_OVERHEAD_BYTES


def keep_spools_in_memory() -> None:
    """Starlette rolls a spooled upload over to a disk file past ``spool_max_size``; with the
    cap above it never can, since no body longer than the cap gets through."""
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, upload_cap())


def is_upload(path: str) -> bool:
    return path == UPLOAD_PATH or path.startswith(UPLOAD_PATH + "/")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _may_upload(cookie_header: str, ip: str) -> bool:
    """A valid session with nothing owed (runs in the work pool: it reads the database)."""
    token = cookie_parser(cookie_header).get(auth.SESSION_COOKIE)
    with session_scope() as session:
        try:
            auth.resolve_session(session, token=token, client_ip=ip, touch=False)
        except SessionInvalidError:
            return False
    return True


async def _answer(send: Send, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store"),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": text.encode()})


TOO_LARGE = "The request is too large."


def _is_preflight(scope: Scope) -> bool:
    """A CORS preflight (split deployment: the pages ask before posting an upload to the
    backend's origin). Browsers send it without cookies; it carries no body (capped at the
    small cap below) and Reflex's CORS middleware answers it for our own origin only, so the
    session check waits for the upload itself."""
    return (scope.get("method") == "OPTIONS"
            and _header(scope, b"access-control-request-method") is not None)


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        keep_spools_in_memory()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = SMALL_BODY_BYTES
        if is_upload(scope.get("path", "")) and not _is_preflight(scope):
            client = scope.get("client")
            ip = client[0] if client else ""
            if not await offloop.run_work(_may_upload, _header(scope, b"cookie") or "", ip):
                await _answer(send, 403, "Sign in to upload files.")
                return
            cap = upload_cap()
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            await _answer(send, 413, TOO_LARGE)
            return
        await self._capped(scope, receive, send, cap)

    async def _capped(self, scope: Scope, receive: Receive, send: Send, cap: int) -> None:
        """Run the app, cutting the body off at ``cap`` bytes: past it the app sees the client
        disconnect (it stops parsing and drops what it holds) and the client gets 413."""
        received = 0
        too_large = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                if not started:
                    started = True
                    await _answer(send, 413, TOO_LARGE)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if too_large and not started:
            started = True
            await _answer(send, 413, TOO_LARGE)


def request_guard(app: ASGIApp) -> ASGIApp:
    return RequestGuard(app)
