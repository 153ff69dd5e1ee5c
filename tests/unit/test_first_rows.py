"""GET /dashboard served with the provider's first rows in the HTML (web/first_rows.py)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from care_messaging.services import auth
from care_messaging.services.conversations import create_conversation
from care_messaging.services.message_sending import send_message
from care_messaging.state.thread_base import PAGE_SIZE
from care_messaging.web.auth_routes import routes as auth_routes
from care_messaging.web.first_rows import FirstRowsMiddleware, rows_html, with_first_rows
from tests.factories import PASSWORD, clinic

# What Reflex's prerender writes for the placeholder (attribute order as React renders it).
PAGE = ('<html><body><main><div aria-busy="true" aria-label="Conversations" class="rx-Html"'
        ' id="first-rows" role="list"></div></main></body></html>')


def _static(request):
    return PlainTextResponse(f"static {request.url.path}")


@pytest.fixture
def page_file(tmp_path: Path) -> Path:
    path = tmp_path / "index.html"
    path.write_text(PAGE)
    return path


@pytest.fixture
def client(db_url, page_file):
    inner = Starlette(routes=[*auth_routes, Route("/{path:path}", _static)])
    return TestClient(FirstRowsMiddleware(inner, lambda: page_file),
                      base_url="http://localhost:3000")


@pytest.fixture
def people(session):
    people = clinic(session)
    conversation, _ = create_conversation(
        session, actor=people["maria"], patient_id=None, reason="Test", topic="Rash <b>&</b> itch",
        body='Started "Tuesday" <script>alert(1)</script>')
    session.commit()
    people["conversation"] = conversation
    other, _ = create_conversation(session, actor=people["james"], patient_id=None,
                                   reason="Test", topic="James's knee", body="Sore")
    session.commit()
    people["other"] = other
    return people


def _sign_in(client: TestClient, email: str) -> None:
    client.cookies.clear()
    response = client.post("/api/auth/login", data={"email": email, "password": PASSWORD},
                           headers={"Origin": "http://localhost:3000"}, follow_redirects=False)
    assert response.status_code == 303 and auth.SESSION_COOKIE in response.cookies


def _rows(html: str) -> list[str]:
    return re.findall(r'<div class="cm-row"[^>]*>', html)


def test_provider_gets_their_first_rows_escaped_in_the_page(client, people):
    _sign_in(client, people["lee"].email)
    response = client.get("/dashboard")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    body = response.text
    assert len(_rows(body)) == 1
    assert "Rash &lt;b&gt;&amp;&lt;/b&gt; itch" in body and "<b>&" not in body
    assert "&lt;script&gt;" in body and "<script>alert" not in body
    assert f'href="/dashboard?c={people["conversation"].id}"' in body
    assert "Maria Garcia" in body and "P-100200" in body
    assert 'class="unread-dot"' in body and "1 unread" in body
    # James is not on Dr. Lee's team: his conversation is nowhere in Dr. Lee's page.
    assert "knee" not in body and f'c={people["other"].id}"' not in body
    # The rows sit inside the placeholder, the page around it unchanged.
    assert body.startswith(PAGE.split("</div>")[0]) and body.endswith("</div></main></body></html>")


def test_the_open_conversation_is_marked_current(client, people):
    _sign_in(client, people["lee"].email)
    body = client.get(f"/dashboard?c={people['conversation'].id}").text
    assert 'aria-current="true"' in body


def test_first_page_only(client, people, session):
    for n in range(PAGE_SIZE + 5):
        create_conversation(session, actor=people["maria"], patient_id=None, reason="Test", topic=f"Topic {n}",
                            body="Hello")
        session.commit()
    _sign_in(client, people["patel"].email)
    assert len(_rows(client.get("/dashboard/").text)) == PAGE_SIZE


@pytest.mark.parametrize("who", [None, "maria", "outsider_signed_out"])
def test_anyone_else_gets_the_page_without_rows(client, people, who, page_file):
    if who == "maria":
        _sign_in(client, people["maria"].email)
    elif who == "outsider_signed_out":
        _sign_in(client, people["outsider"].email)
        client.post("/api/auth/logout", headers={"Origin": "http://localhost:3000"})
    response = client.get("/dashboard")
    assert response.status_code == 200 and response.text == PAGE


def test_provider_who_must_enrol_two_step_gets_no_rows(client, people, session):
    from care_messaging.services import users as user_service
    from tests.factories import actor_of, make_admin

    admin = actor_of(session, make_admin(session))
    user_service.set_totp_required(session, actor=admin, user_id=people["lee"].user_id,
                                   required=True)
    session.commit()
    _sign_in(client, people["lee"].email)
    assert client.get("/dashboard").text == PAGE


def test_other_requests_pass_through(client, people, page_file):
    _sign_in(client, people["lee"].email)
    assert client.get("/portal").text == "static /portal"
    assert client.head("/dashboard").status_code == 200
    assert "cm-row" not in client.head("/dashboard").text
    page_file.unlink()  # no frontend build (dev server): the request goes on unchanged
    assert client.get("/dashboard").text == "static /dashboard"


def test_a_rebuilt_page_is_picked_up(client, people, page_file):
    _sign_in(client, people["lee"].email)
    assert "cm-row" in client.get("/dashboard").text
    page_file.write_text(PAGE.replace("<main>", "<main><h1>v2</h1>"))
    os.utime(page_file, (1, 1))
    body = client.get("/dashboard").text
    assert "<h1>v2</h1>" in body and "cm-row" in body


def test_new_messages_show_in_the_next_page_load(client, people, session):
    _sign_in(client, people["lee"].email)
    send_message(session, actor=people["maria"], conversation_id=people["conversation"].id,
                 body="Now it spreads", client_msg_id="x1")
    session.commit()
    body = client.get("/dashboard").text
    assert "Now it spreads" in body and "2 messages" in body and "2 unread" in body


def test_placeholder_missing_leaves_the_page_alone():
    assert with_first_rows("<main></main>", rows_html([])) == "<main></main>"
    row = {"id": "7", "topic": "T", "patient_id": "3", "patient_name": "A B", "mrn": "P-1",
           "initials": "AB", "preview": "p", "unread": "0", "count": "1",
           "when": "2026-11-03T04:14:00Z"}
    html = rows_html([row], selected_id="7")
    assert "1 message<" in html and "unread" not in html and 'aria-current="true"' in html


def _row(**flags: str) -> dict[str, str]:
    row = {"id": "7", "topic": "Refill", "patient_id": "3", "patient_name": "Ann Lee",
           "mrn": "MRN1", "initials": "AL", "preview": "Hi", "unread": "0", "count": "1",
           "when": "", "draft": "", "assignee": "", "red_flag": "", "overdue": ""}
    return {**row, **flags}


def test_the_first_rows_draw_the_live_rows_marks():
    """The served HTML draws every mark the live list does, from the same definition
    (components/provider_sidebar.ROW_FLAGS and DRAFT_MARK): a mark added there shows in both."""
    from care_messaging.components.provider_sidebar import DRAFT_MARK, ROW_FLAGS

    plain = rows_html([_row()])
    assert "cm-flag" not in plain and "cm-draft" not in plain
    marked = rows_html([_row(draft="1", **{key: "1" for key, *_ in ROW_FLAGS})])
    for _key, classes, testid, text in ROW_FLAGS:
        assert f'<span class="{classes}" data-testid="{testid}">{text}</span>' in marked
    assert f'data-testid="draft">{DRAFT_MARK}</span>Hi</p>' in marked
