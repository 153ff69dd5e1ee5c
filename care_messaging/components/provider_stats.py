"""Provider statistics: four cards, a 30-day bar chart and the median first reply."""

from __future__ import annotations

import reflex as rx


def _card(label: str, value: rx.Var, icon: str) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.icon(icon, size=20, color=rx.color("teal", 9)),
            rx.vstack(
                rx.text(label, size="1", color_scheme="gray"),
                rx.text(value, size="5", weight="bold", data_testid=f"stat-{label}"),
                spacing="0",
            ),
            align="center",
        ),
        aria_label=label,
        min_width="150px",
        flex="1",
    )


def provider_stats(S) -> rx.Component:
    # "—", not a misleading 0, until the first counts have arrived.
    def count(var: rx.Var) -> rx.Var:
        return rx.cond(S.list_loaded, var.to(str), "—")

    # On phones the cards make way for an open thread.
    return rx.vstack(
        rx.flex(
            _card("Total conversations", count(S.stat_total), "messages-square"),
            _card("Unread messages", count(S.stat_unread), "mail"),
            _card("Patients", count(S.stat_patients), "users"),
            _card("Total messages", count(S.stat_messages), "send"),
            _card("Median first reply", S.median_reply, "timer"),
            gap="2", wrap="wrap", width="100%",
        ),
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
            width="100%",
            class_name="hide-narrow",
        ),
        width="100%", padding_x="1em", padding_top="0.75em", spacing="2",
        display=rx.cond(S.open_id != "", "none", "flex"),
        style={"@media (min-width: 768px)": {"display": "flex"}},
        aria_label="Statistics",
    )
