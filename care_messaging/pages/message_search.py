"""Search the messages themselves, at /search, for providers (what their care teams may see)
and patients (their own conversations).

Each result shows the matching message in context (a snippet, the conversation's topic, the
patient for providers, the sender and the time) and links to its thread at that message
(``?c=<conversation>&m=<seq>``), which opens it scrolled to the message and highlighted. The
thread page re-checks access to the conversation like any other address: a forged link opens
nothing. The search itself is scoped and audited by the service.
"""

from __future__ import annotations

import reflex as rx

from care_messaging.components.layout import app_shell
from care_messaging.components.local_time import local_time
from care_messaging.db import session_scope
from care_messaging.models import Role
from care_messaging.navigation import landing_for
from care_messaging.pages.dashboard import provider_nav
from care_messaging.pages.portal import patient_nav
from care_messaging.presenters.provider import when
from care_messaging.services import conversation_list
from care_messaging.services.actors import Actor
from care_messaging.services.message_search import MAX_QUERY_CHARS, find_messages
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import guarded
from care_messaging.state.shared_values import NO_ROWS, no_rows


class MessageSearchState(AuthState):
    query: str = ""
    results: list[dict[str, str]] = rx.field(default_factory=no_rows)
    searched: bool = False
    nav_unread: int = 0

    def _search(self, actor) -> None:
        with session_scope() as session:
            self.nav_unread = conversation_list.unread_total(session, actor=actor)
            if not self.query.strip():
                self.results, self.searched = NO_ROWS, False
                return
            found = find_messages(session, actor=actor, query=self.query)
        page = landing_for(actor.role)
        self.results = [{
            "href": f"{page}?c={r.conversation_id}&m={r.seq}",
            "topic": r.topic,
            "patient": r.patient_name if actor.role == Role.PROVIDER else "",
            "sender": "You" if r.mine else r.sender_name,
            "when": when(r.created_at),
            "snippet": r.snippet,
        } for r in found]
        self.searched = True

    @guarded(Role.PROVIDER, Role.PATIENT)
    def load(self, actor: Actor):
        self.query = str(self.router.url.query_parameters.get("q", ""))[:MAX_QUERY_CHARS]
        self._search(actor)
        return None

    @guarded(Role.PROVIDER, Role.PATIENT)
    def search(self, actor: Actor, form_data: dict):
        self.query = str(form_data.get("q", ""))[:MAX_QUERY_CHARS]
        self._search(actor)
        return None


def _result(r: rx.Var) -> rx.Component:
    return rx.el.li(
        rx.link(
            rx.vstack(
                rx.hstack(
                    rx.text(r["topic"], weight="bold", size="3"),
                    rx.spacer(),
                    rx.text(local_time(r["when"], "bubble"), size="1", color_scheme="gray"),
                    width="100%", align="baseline", wrap="wrap",
                ),
                rx.text(
                    rx.cond(r["patient"] != "", rx.fragment(r["patient"], " · "), ""),
                    r["sender"], size="1", color_scheme="gray",
                ),
                rx.text(r["snippet"], size="2", class_name="search-snippet"),
                spacing="1", width="100%",
            ),
            href=r["href"], underline="none", color_scheme="gray", high_contrast=True,
            display="block", padding="0.75em", width="100%",
        ),
        style={"listStyle": "none", "borderBottom": f"1px solid {rx.color('gray', 4)}"},
        data_testid="search-result",
    )


def search_page() -> rx.Component:
    S = MessageSearchState
    provider = S.user_role == Role.PROVIDER
    return app_shell(
        rx.vstack(
            rx.heading("Search messages", size="6", as_="h1"),
            rx.text(rx.cond(provider,
                            "Searches the messages of your care teams' patients.",
                            "Searches the messages in your conversations."),
                    size="2", color_scheme="gray"),
            rx.form(
                rx.hstack(
                    rx.input(id="search-q", name="q", type="search", default_value=S.query,
                             aria_label="Search messages",
                             placeholder="Words in a message, e.g. dose",
                             max_length=MAX_QUERY_CHARS, width="100%", auto_focus=True),
                    rx.button(rx.icon("search", size=16), "Search", type="submit"),
                    width="100%", align="center",
                ),
                on_submit=S.search, width="100%", role="search",
            ),
            rx.cond(
                S.searched,
                rx.text(S.results.length(), rx.cond(S.results.length() == 1, " message",
                                                    " messages"), " found",
                        size="1", color_scheme="gray", role="status", aria_live="polite"),
            ),
            rx.cond(
                S.results.length() > 0,
                rx.el.ul(rx.foreach(S.results, _result), aria_label="Search results",
                         style={"padding": 0, "margin": 0, "width": "100%"}),
                rx.cond(S.searched, rx.text("No messages contain all of those words. "
                                            "Whole words are matched: try another form "
                                            "of the word.", color_scheme="gray")),
            ),
            spacing="3", width="100%", max_width="800px", padding="1em", margin_x="auto",
        ),
        user_name=S.user_name,
        nav=[rx.cond(provider,
                     rx.hstack(*provider_nav(S.nav_unread, S.clinic_lead), spacing="4", align="center"),
                     rx.hstack(*patient_nav(S.nav_unread), spacing="4", align="center"))],
    )
