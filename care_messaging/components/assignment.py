"""Who is handling the open thread, on the provider dashboard: the sentence, "I'll take this",
"Assign to" (the patient's care team only) and "Release"."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.error_notice import error_notice


def assignment_bar(S) -> rx.Component:
    """``S`` has ``handling_label``, ``assignee_id``, ``assigned_to_me``, ``team_options``,
    ``assign_error`` and the handlers ``take_conversation``, ``assign_to``,
    ``release_conversation``."""
    return rx.vstack(
        rx.hstack(
            rx.icon("user-check", size=16, aria_hidden="true"),
            rx.text(S.handling_label, size="2", weight="medium", data_testid="handling"),
            rx.spacer(),
            rx.cond(~S.assigned_to_me,
                    rx.button("I'll take this", size="1", on_click=S.take_conversation)),
            rx.el.label("Assign to", html_for="assign-to", style={"fontSize": "13px"}),
            rx.el.select(
                rx.el.option("Choose a colleague", value="", disabled=True),
                rx.foreach(S.team_options,
                           lambda m: rx.el.option(m["name"], value=m["id"])),
                id="assign-to", name="assign-to", value=S.assignee_id,
                on_change=S.assign_to,
                style={"padding": "4px", "borderRadius": "6px",
                       "border": f"1px solid {rx.color('gray', 7)}"},
            ),
            rx.cond(S.assignee_id != "",
                    rx.button("Release", size="1", variant="soft", color_scheme="gray",
                              on_click=S.release_conversation)),
            width="100%", align="center", wrap="wrap", spacing="2",
        ),
        error_notice(S.assign_error, size="1"),
        width="100%", spacing="1",
    )
