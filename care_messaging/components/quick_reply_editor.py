"""The list and form that manage quick replies (state/quick_reply_editor.py)."""

from __future__ import annotations

import reflex as rx

from care_messaging.services.quick_replies import MAX_BODY, MAX_NAME, PLACEHOLDERS


def quick_reply_editor(S, *, heading: str, intro: str) -> rx.Component:
    placeholders = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    return rx.vstack(
        rx.heading(heading, size="5", as_="h2"),
        rx.text(intro, " Placeholders: ", placeholders, ".", size="2", color_scheme="gray"),
        rx.cond(S.qr_error != "", rx.callout(S.qr_error, color_scheme="red", role="alert")),
        rx.cond(S.qr_notice != "", rx.callout(S.qr_notice, role="status")),
        rx.el.ul(rx.foreach(S.qr_rows, lambda q: rx.el.li(rx.hstack(
            rx.vstack(rx.text("/", q["name"], weight="bold", size="2"),
                      rx.text(q["body"], size="2", white_space="pre-wrap"), spacing="0"),
            rx.spacer(),
            rx.button("Edit", variant="soft", size="1", on_click=S.edit_quick_reply(q["id"]),
                      aria_label="Edit /" + q["name"].to(str)),
            rx.button("Delete", variant="soft", color_scheme="red", size="1",
                      on_click=S.delete_quick_reply(q["id"]),
                      aria_label="Delete /" + q["name"].to(str)),
            width="100%", align="start"), data_testid="quick-reply-item")),
            aria_label=heading, style={"listStyle": "none", "padding": 0, "width": "100%"}),
        rx.form(
            rx.vstack(
                rx.el.input(type="hidden", name="id", value=S.qr_edit_id),
                rx.el.label("Name (typed after /)", html_for="qr-name",
                            style={"fontSize": "13px"}),
                rx.input(id="qr-name", name="name", max_length=MAX_NAME,
                         default_value=S.qr_edit_name, key=S.qr_edit_id + "-name"),
                rx.el.label("Text", html_for="qr-body", style={"fontSize": "13px"}),
                rx.text_area(id="qr-body", name="body", max_length=MAX_BODY, rows="3",
                             default_value=S.qr_edit_body, key=S.qr_edit_id + "-body",
                             width="100%"),
                rx.button("Save quick reply", type="submit"),
                width="100%", max_width="40em",
            ),
            on_submit=S.save_quick_reply, reset_on_submit=True, width="100%",
        ),
        width="100%", spacing="2",
    )
