"""Provider statistics: five compact figures in one row, the 30-day chart behind a disclosure.

The figures take one line on a desktop (two or three short lines on a phone), so the list, the
newest message and the reply box fit on the first screen from 1280x720 up; the chart is one
click away ("Show 30-day chart", a native <details>: no round trip to open it).
"""

from __future__ import annotations

import reflex as rx


def _figure(label: str, value: rx.Var, icon: str) -> rx.Component:
    return rx.el.div(
        rx.icon(icon, size=16, color=rx.color("teal", 9), aria_hidden="true"),
        rx.el.span(value, class_name="cm-stat-value", data_testid=f"stat-{label}"),
        rx.el.span(label, class_name="cm-stat-label"),
        class_name="cm-stat",
        role="group",
        aria_label=label,
    )


def _chart(S) -> rx.Component:
    return rx.el.details(
        rx.el.summary("Show 30-day chart", class_name="cm-chart-toggle"),
        rx.box(
            rx.text("Messages per day (last 30 days)", size="1", color_scheme="gray"),
            # Bars drawn with CSS from the counts (no charting library to load with the
            # page); each bar names its day and count for screen readers and on hover.
            rx.el.ul(
                rx.foreach(
                    S.chart_data,
                    lambda d: rx.el.li(
                        title=d["label"].to(str),
                        aria_label=d["label"].to(str),
                        style={"height": d["pct"].to(str) + "%"},
                    ),
                ),
                class_name="cm-chart",
                aria_label="Messages per day",
            ),
            width="100%", padding_top="0.5em",
        ),
        class_name="cm-chart-box hide-narrow",
    )


def provider_stats(S) -> rx.Component:
    # "—", not a misleading 0, until the first counts have arrived.
    def count(var: rx.Var) -> rx.Var:
        return rx.cond(S.list_loaded, var.to(str), "—")

    # On phones the figures make way for an open thread.
    return rx.box(
        rx.el.div(
            _figure("Total conversations", count(S.stat_total), "messages-square"),
            _figure("Unread messages", count(S.stat_unread), "mail"),
            _figure("Patients", count(S.stat_patients), "users"),
            _figure("Total messages", count(S.stat_messages), "send"),
            _figure("Median first reply", S.median_reply, "timer"),
            class_name="cm-stats",
        ),
        _chart(S),
        width="100%",
        display=rx.cond(S.open_id != "", "none", "block"),
        style={"@media (min-width: 768px)": {"display": "block"}},
        aria_label="Statistics",
        role="region",
        class_name="cm-stats-box",
    )
