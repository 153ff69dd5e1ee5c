"""GET /api/attachments/{id}: the only way attachment bytes leave the server.

The acting user comes from the HttpOnly session cookie. Nonexistent, forbidden, signed-out and
expired all get the same 404, and so does a session that still owes its second step
(``resolve_session`` refuses it). Files are sent as downloads (inline only for images, which
the thread shows as thumbnails), never sniffed, never cached. Decrypting and hashing up to
10 MB runs in the bounded work pool, off the event loop.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from care_messaging.crypto import TamperedDataError
from care_messaging.db import session_scope
from care_messaging.models import Attachment
from care_messaging.services import attachments, auth
from care_messaging.services.errors import NotFoundError, SessionInvalidError
from care_messaging.web import offloop
from care_messaging.web.auth_routes import client_ip

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def not_found() -> Response:
    return PlainTextResponse("Not found", status_code=404, headers=NO_STORE)


def content_disposition(name: str, *, inline: bool) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _open(token: str | None, ip: str, attachment_id: int) -> tuple[Attachment, bytes] | None:
    """The blocking part (database, decrypt, hash): runs in the work pool. None: not found."""
    with session_scope() as session:
        try:
            actor = auth.resolve_session(session, token=token, client_ip=ip)
            return attachments.open_attachment(session, actor=actor, attachment_id=attachment_id)
        except (SessionInvalidError, NotFoundError):
            return None


async def download_route(request: Request) -> Response:
    attachment_id = request.path_params["attachment_id"]
    token = request.cookies.get(auth.SESSION_COOKIE)
    try:
        opened = await offloop.run_work(_open, token, client_ip(request), attachment_id)
    except TamperedDataError:
        return PlainTextResponse("This file could not be verified and was not sent.",
                                 status_code=409, headers=NO_STORE)
    if opened is None:
        return not_found()
    attachment, data = opened
    inline = attachment.content_type.startswith("image/") and "download" not in request.query_params
    return Response(
        data,
        media_type=attachment.content_type,
        headers={**NO_STORE,
                 "Content-Disposition": content_disposition(attachment.display_name,
                                                            inline=inline)},
    )


routes = [Route("/api/attachments/{attachment_id:int}", download_route, methods=["GET"])]
