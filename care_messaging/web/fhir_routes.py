"""GET /api/conversations/{id}/fhir: a conversation as a FHIR R4 Bundle, as a download.

Guarded like the attachment route: the acting user comes only from the HttpOnly session
cookie, resolved before anything else; signed out, not on the care team and nonexistent all
get the same 404. The export (decrypting every message and file) runs in the bounded work
pool, off the event loop. The file name carries no PHI.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from care_messaging.db import session_scope
from care_messaging.services import auth, fhir_export
from care_messaging.services.errors import NotFoundError, SessionInvalidError, ValidationError
from care_messaging.web import offloop
from care_messaging.web.attachment_routes import NO_STORE, not_found
from care_messaging.web.auth_routes import client_ip

FHIR_JSON = "application/fhir+json"


def _export(token: str | None, ip: str, conversation_id: int) -> dict[str, Any] | str | None:
    """The blocking part: the Bundle, an error to show (str), or None for not found."""
    with session_scope() as session:
        try:
            actor = auth.resolve_session(session, token=token, client_ip=ip)
        except SessionInvalidError:
            return None
        try:
            return fhir_export.export_conversation(session, actor=actor,
                                                   conversation_id=conversation_id)
        except NotFoundError:
            return None
        except ValidationError as error:
            return str(error)


async def fhir_download_route(request: Request) -> Response:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if not token:  # no session: nothing runs, not even a database query
        return not_found()
    conversation_id = request.path_params["conversation_id"]
    result = await offloop.run_work(_export, token, client_ip(request), conversation_id)
    if result is None:
        return not_found()
    if isinstance(result, str):
        return PlainTextResponse(result, status_code=409, headers=NO_STORE)
    body = json.dumps(result, ensure_ascii=False, indent=1).encode("utf-8")
    name = f"conversation-{conversation_id}-fhir.json"
    return Response(body, media_type=FHIR_JSON, headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'})


routes = [Route("/api/conversations/{conversation_id:int}/fhir", fhir_download_route,
                methods=["GET"])]
