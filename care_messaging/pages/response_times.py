"""Response times for clinic leads and the admin (services/response_times.py): aggregates
only, no patient, topic or text, so the admin may see it too. Anyone else gets the same
"not found" as for any page they may not see."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.layout import app_shell, nav_link
from care_messaging.db import session_scope
from care_messaging.navigation import landing_for
from care_messaging.services import response_times
from care_messaging.services.actors import Actor
from care_messaging.services.errors import ServiceError
from care_messaging.services.stats import format_duration
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import guarded
from care_messaging.state.shared_values import NO_ROWS, no_rows


def _share(value: float | None) -> str:
    return "—" if value is None else f"{round(100 * value)}%"


def _rows(buckets: list[response_times.Bucket]) -> list[dict[str, str]]:
    peak = max((b.median_seconds or 0 for b in buckets), default=0) or 1
    return [{"label": b.label, "replies": str(b.replies),
             "median": format_duration(b.median_seconds), "within": _share(b.within_share),
             "pct": str(round(100 * (b.median_seconds or 0) / peak)),
             "aria": f"{b.label}: median {format_duration(b.median_seconds)}, "
                     f"{_share(b.within_share)} within reply-by, {b.replies} replies"}
            for b in buckets]


class ResponseTimesState(AuthState):
    provider_rows: list[dict[str, str]] = rx.field(default_factory=no_rows)
    week_rows: list[dict[str, str]] = rx.field(default_factory=no_rows)
    overdue_now: int = 0
    waiting: int = 0
    rt_error: str = ""
    rt_home: str = "/dashboard"

    @guarded("provider", "admin")
    def load(self, actor: Actor):
        self.rt_home = landing_for(actor.role)
        self.rt_error = ""
        with session_scope() as session:
            try:
                report = response_times.compute(session, actor=actor)
            except ServiceError:
                self.provider_rows, self.week_rows = NO_ROWS, NO_ROWS
                self.rt_error = "This page is for clinic leads."
                return None
        self.provider_rows = _rows(report.providers)
        self.week_rows = _rows(report.weeks)
        self.overdue_now, self.waiting = report.overdue_now, report.waiting
        return None


def _table(rows, first: str) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(c) for c in
                                       [first, "First replies", "Median time to first reply",
                                        "Within reply-by"]])),
        rx.table.body(rx.foreach(rows, lambda r: rx.table.row(
            rx.table.cell(r["label"]), rx.table.cell(r["replies"]), rx.table.cell(r["median"]),
            rx.table.cell(r["within"])))),
        size="1", variant="surface", aria_label=f"Response times per {first.lower()}",
    )


def _chart() -> rx.Component:
    S = ResponseTimesState
    return rx.hstack(
        rx.foreach(S.week_rows, lambda r: rx.vstack(
            rx.text(r["median"], size="1"),
            rx.box(height=r["pct"].to(str) + "%", min_height="2px", width="100%",
                   background=rx.color("teal", 9), border_radius="3px 3px 0 0"),
            rx.text(r["within"], size="1", color_scheme="gray"),
            rx.text(r["label"].to(str).replace("Week of ", ""), size="1"),
            height="100%", justify="end", align="center", spacing="1", flex="1",
            role="img", aria_label=r["aria"],
        )),
        height="220px", width="100%", align="end", spacing="2",
        data_testid="weekly-chart", aria_label="Median time to first reply per week",
    )


def response_times_page() -> rx.Component:
    S = ResponseTimesState
    return app_shell(
        rx.vstack(
            rx.heading("Response times", size="6", as_="h1"),
            rx.cond(
                S.rt_error != "",
                rx.callout(S.rt_error, color_scheme="gray", role="status"),
                rx.vstack(
                    rx.hstack(
                        rx.card(rx.text("Overdue now", size="1"),
                                rx.heading(S.overdue_now, size="6", data_testid="overdue-now")),
                        rx.card(rx.text("Waiting for a first reply", size="1"),
                                rx.heading(S.waiting, size="6")),
                    ),
                    rx.heading("Per week (last 8 weeks)", size="4", as_="h2"),
                    rx.text("Bar: median time from a patient's new conversation to the first "
                            "reply; below it, the share of first replies within the reply-by "
                            "time.", size="1", color_scheme="gray"),
                    _chart(),
                    rx.box(_table(S.week_rows, "Week"), overflow_x="auto", width="100%"),
                    rx.heading("Per provider", size="4", as_="h2"),
                    rx.box(_table(S.provider_rows, "Provider"), overflow_x="auto",
                           width="100%"),
                    width="100%", spacing="3",
                ),
            ),
            padding="1em", spacing="3", width="100%", max_width="960px",
        ),
        user_name=S.user_name,
        nav=[nav_link("Home", S.rt_home), nav_link("Response times", "/response-times"),
             nav_link("Account", "/account")],
    )
