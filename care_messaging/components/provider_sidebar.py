"""Provider sidebar: filter tabs, search, conversation rows, "Load more"."""

from __future__ import annotations

import functools
import operator

import reflex as rx

from care_messaging.components.local_time import local_time

MOBILE_HIDE = {"@media (min-width: 768px)": {"display": "flex"}}
# The element web/first_rows.py fills with the first rows when it serves the page.
FIRST_ROWS_ID = "first-rows"
# A row's links and triage marks, written once for both renderers of a row: ``_row`` below
# (the live list) and web/first_rows.py (the HTML served before the websocket connects).
# The row's fields are ``presenters.provider.SidebarRow``.
CONVERSATION_HREF = "/dashboard?c="
PATIENT_HREF = "/patients?id="
# (flag key, CSS classes, test id, text), in the order they show.
ROW_FLAGS = (("red_flag", "cm-flag cm-flag-red", "red-flag-mark", "Urgent: red flag"),
             ("overdue", "cm-flag cm-flag-amber", "overdue-mark", "Overdue"))
DRAFT_MARK = "Draft"


def _in_app_link(text: rx.Var, href: rx.Var, **props) -> rx.Component:
    """A plain anchor that navigates inside the app on click (no page reload); a router link
    component per anchor costs ~0.5 ms each to render, and a page has 60 of them. The address
    stays in ``href`` for middle-click, "open in new tab" and screen readers; a click with
    Ctrl/Cmd/Shift/Alt goes to the browser (assets/care.js)."""
    return rx.el.a(text, href=href, on_click=rx.redirect(href).prevent_default,
                   data_in_app="", **props)


def _row(row: rx.Var, selected_id: rx.Var) -> rx.Component:
    # Plain elements with classes from assets/care.css: a page of 30 rows is the first thing
    # the dashboard paints, and theme components with per-element styles cost ~1 ms a row.
    unread = row["unread"] != "0"
    return rx.el.div(
        rx.el.span(row["initials"], class_name="cm-avatar", aria_hidden="true"),
        rx.el.div(
            rx.el.div(
                _in_app_link(row["topic"], CONVERSATION_HREF + row["id"].to(str),
                             class_name="conversation-link"),
                rx.cond(unread, rx.el.span(class_name="unread-dot", aria_label="unread",
                                           role="status")),
                # Top right on every row (as messengers do), never wrapped under the meta.
                rx.el.span(local_time(row["when"], "list"), class_name="cm-when"),
                class_name="cm-row-head",
            ),
            _in_app_link(row["patient_name"], PATIENT_HREF + row["patient_id"].to(str),
                         class_name="cm-patient",
                         aria_label=f"Profile of {row['patient_name']}"),
            # Unsent text of the reader's own in this conversation (services/drafts.py).
            rx.el.p(rx.cond(row["draft"] == "1",
                            rx.el.span(DRAFT_MARK, class_name="cm-draft", data_testid="draft")),
                    row["preview"], class_name="cm-preview"),
            rx.cond(functools.reduce(operator.or_, [row[key] == "1" for key, *_ in ROW_FLAGS]),
                    rx.el.div(
                        *[rx.cond(row[key] == "1",
                                  rx.el.span(text, class_name=classes, data_testid=testid))
                          for key, classes, testid, text in ROW_FLAGS],
                        class_name="cm-row-meta",
                    )),
            rx.el.div(
                rx.el.span(rx.cond(row["count"] == "1", "1 message",
                                   row["count"].to(str) + " messages")),
                rx.el.span("ID ", row["mrn"]),
                rx.cond(unread, rx.el.span(row["unread"], " unread", class_name="cm-badge")),
                # Who on the team is handling it (the same chip on every colleague's list).
                rx.cond(row["assignee"] != "",
                        rx.el.span(row["assignee"], class_name="cm-assignee",
                                   title="Handling this")),
                class_name="cm-row-meta",
            ),
            class_name="cm-row-body",
        ),
        class_name="cm-row",
        aria_current=rx.cond(row["id"] == selected_id, "true", "false"),
        data_testid="conversation-row",
        role="listitem",
    )


def provider_sidebar(S) -> rx.Component:
    tabs = rx.tabs.root(
        rx.tabs.list(
            rx.tabs.trigger("All", value="all"),
            rx.tabs.trigger("Unread", value="unread"),
            rx.tabs.trigger("Read", value="read"),
            rx.tabs.trigger("Assigned to me", value="assigned_to_me"),
            rx.tabs.trigger("Unassigned", value="unassigned"),
            rx.tabs.trigger("Overdue", value="overdue"),
            # Six tabs in a 380px sidebar: they wrap onto a second line rather than scroll
            # the whole sidebar sideways.
            size="1", style={"flexWrap": "wrap"},
        ),
        # Each tab names the panel it controls (aria-controls): without one, that is an
        # invalid reference (axe-core, critical). The list below is what the tab filters.
        *[rx.tabs.content(value=v)
          for v in ("all", "unread", "read", "assigned_to_me", "unassigned", "overdue")],
        value=S.filter_by,
        on_change=S.set_filter,
    )
    return rx.vstack(
        rx.hstack(
            rx.heading("Conversations", size="4", as_="h2"),
            rx.spacer(),
            rx.button(rx.icon("plus", size=16), "New Message", on_click=S.set_new_open(True),
                      size="2"),
            width="100%", align="center",
        ),
        tabs,
        rx.input(placeholder="Search topic, patient name or ID", value=S.search,
                 on_change=S.set_search.debounce(300), aria_label="Search conversations",
                 width="100%", type="search"),
        rx.cond(
            S.list_loaded,
            rx.fragment(
                rx.text(S.conversations.length(), " of ", S.total_rows, " conversations",
                        size="1", color_scheme="gray", data_testid="list-count"),
                rx.cond(
                    S.total_rows == 0,
                    rx.callout("No conversations match", icon="search-x", color_scheme="gray",
                               width="100%"),
                ),
                rx.box(
                    rx.foreach(S.conversations, lambda row: _row(row, S.open_id)),
                    role="list", aria_label="Conversations", width="100%",
                ),
            ),
            # Until the list arrives over the websocket: the first rows the server put into
            # the page itself (web/first_rows.py, same markup as _row), else "Loading...".
            rx.html("", id=FIRST_ROWS_ID, role="list", aria_label="Conversations",
                    aria_busy="true", width="100%"),
        ),
        rx.cond(S.has_more, rx.button("Load more", on_click=S.load_more, variant="soft",
                                      width="100%")),
        width=["100%", "100%", "380px"],
        min_width=["100%", "100%", "380px"],
        padding="1em",
        spacing="3",
        border_right=f"1px solid {rx.color('gray', 5)}",
        display=rx.cond(S.open_id != "", "none", "flex"),
        style=MOBILE_HIDE,
        overflow_y="auto",
        # Desktops: as tall as the workspace (to the window's bottom edge), scrolling inside.
        max_height="none",
    )
