"""The provider dashboard served with its first page of conversation rows already in the HTML.

Reflex prerenders ``/dashboard`` at build time without any user's data, so on its own the list
only appears once the JavaScript has booted, the websocket is up and ``DashboardState.load`` has
answered (~400 ms on a 2-core machine, most of it the browser booting React). This middleware
serves that same prerendered file with the signed-in provider's first rows written into the
list's placeholder (``#first-rows``, a ``dangerouslySetInnerHTML`` element React leaves as it is
while hydrating), so they show with the first paint. When ``load`` has delivered the live list,
the page swaps the placeholder for it (``list_loaded``); the markup is the same as
``components/provider_sidebar._row`` so nothing moves.

The rows come from the same access-scoped service as the websocket path
(``conversations.list_conversations`` for the actor of the HttpOnly session cookie); anyone
else (signed out, a patient, an admin) gets the file unchanged and is redirected by the page as
before. Every text is HTML-escaped; the security-headers middleware marks the response
``no-store``. Serving ``/dashboard`` here also saves the static server's redirect to
``/dashboard/``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from care_messaging.components.local_time import time_html
from care_messaging.components.provider_sidebar import (
    CONVERSATION_HREF,
    DRAFT_MARK,
    FIRST_ROWS_ID,
    PATIENT_HREF,
    ROW_FLAGS,
)
from care_messaging.db import session_scope
from care_messaging.models import Role
from care_messaging.presenters.provider import SidebarRow, sidebar_row
from care_messaging.services import auth, conversation_list, view_audit
from care_messaging.services.errors import SessionInvalidError
from care_messaging.state.thread_base import PAGE_SIZE
from care_messaging.web.auth_routes import client_ip

PATHS = ("/dashboard", "/dashboard/")
# The placeholder as React's prerender writes it: attributes in any order, empty content.
_PLACEHOLDER = re.compile(rf'(<div\b[^>]*\bid="{FIRST_ROWS_ID}"[^>]*>)(</div>)')


def _row_html(row: SidebarRow, selected_id: str) -> str:
    """One row, the same elements and classes as provider_sidebar._row renders, from the
    same links and marks (provider_sidebar.ROW_FLAGS and friends)."""
    e = {key: html.escape(str(value), quote=True) for key, value in row.items()}
    when = time_html(row["when"], "list")
    unread = row["unread"] != "0"
    dot = '<span class="unread-dot" aria-label="unread" role="status"></span>' if unread else ""
    badge = f'<span class="cm-badge">{e["unread"]} unread</span>' if unread else ""
    if row.get("assignee"):
        badge += f'<span class="cm-assignee" title="Handling this">{e["assignee"]}</span>'
    count = "1 message" if row["count"] == "1" else f'{e["count"]} messages'
    current = "true" if row["id"] == selected_id else "false"
    flags = "".join(
        f'<span class="{classes}" data-testid="{testid}">{html.escape(text)}</span>'
        for key, classes, testid, text in ROW_FLAGS if row.get(key) == "1")
    draft = (f'<span class="cm-draft" data-testid="draft">{DRAFT_MARK}</span>'
             if row.get("draft") == "1" else "")
    marks = f'<div class="cm-row-meta">{flags}</div>' if flags else ""
    return (
        f'<div class="cm-row" aria-current="{current}" data-testid="conversation-row"'
        f' role="listitem">'
        f'<span class="cm-avatar" aria-hidden="true">{e["initials"]}</span>'
        f'<div class="cm-row-body">'
        f'<div class="cm-row-head"><a class="conversation-link" data-in-app=""'
        f' href="{CONVERSATION_HREF}{e["id"]}">{e["topic"]}</a>'
        f'{dot}<span class="cm-when">{when}</span></div>'
        f'<a class="cm-patient" aria-label="Profile of {e["patient_name"]}" data-in-app=""'
        f' href="{PATIENT_HREF}{e["patient_id"]}">{e["patient_name"]}</a>'
        f'<p class="cm-preview">{draft}{e["preview"]}</p>{marks}'
        f'<div class="cm-row-meta"><span>{count}</span><span>ID {e["mrn"]}</span>{badge}'
        f'</div>'
        f"</div></div>"
    )


def rows_html(rows: list[SidebarRow], selected_id: str = "") -> str:
    return "".join(_row_html(row, selected_id) for row in rows)


def with_first_rows(page: str, rows: str) -> str:
    """The prerendered page with ``rows`` inside the list placeholder (unchanged if absent)."""
    return _PLACEHOLDER.sub(lambda m: m.group(1) + rows + m.group(2), page, count=1)


def first_rows_for(token: str | None, ip: str, selected_id: str) -> str:
    """The HTML rows the session's provider sees first on the dashboard, or "" for anyone
    who would not see the dashboard (the page then redirects them as it always has)."""
    with session_scope() as session:
        try:
            actor = auth.resolve_session(session, token=token, client_ip=ip)
        except SessionInvalidError:
            return ""
        if actor.role != Role.PROVIDER:  # a session owing its second step raised above
            return ""
        page = conversation_list.list_conversations(session, actor=actor, filter_by="all",
                                                    search="", limit=PAGE_SIZE)
        view_audit.record_list_view(session, actor=actor, kind="dashboard_first_rows",
                                    rows=len(page.rows),
                                    patient_ids=(r.patient_id for r in page.rows))
        return rows_html([sidebar_row(r) for r in page.rows], selected_id)


class FirstRowsMiddleware:
    def __init__(self, app: ASGIApp, page_file: Callable[[], Path]) -> None:
        self.app = app
        self.page_file = page_file
        self._page: tuple[float, str] | None = None

    def _prerendered(self) -> str | None:
        """The built page, re-read when a rebuild changes it; None when there is no build
        (the dev server serves pages itself)."""
        path = self.page_file()
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        if self._page is None or self._page[0] != mtime:
            self._page = (mtime, path.read_text(encoding="utf-8"))
        return self._page[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        page = None
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in PATHS:
            page = self._prerendered()
        if page is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        rows = await run_in_threadpool(
            first_rows_for, request.cookies.get(auth.SESSION_COOKIE), client_ip(request),
            request.query_params.get("c", ""))
        await HTMLResponse(with_first_rows(page, rows))(scope, receive, send)


def _built_dashboard() -> Path:
    from reflex import constants
    from reflex.utils import prerequisites

    return prerequisites.get_web_dir() / constants.Dirs.STATIC / "dashboard" / "index.html"


def first_rows(app: ASGIApp) -> ASGIApp:
    return FirstRowsMiddleware(app, _built_dashboard)
