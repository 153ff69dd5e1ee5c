"""The providers' quick-reply menu under the reply box (assets/quick_replies.js inserts).

``S`` has ``quick_replies`` (rows of name, body, scope: filled for the open conversation by
services/quick_replies.py) and ``quick_replies_json`` (the same for the script). Choosing one
only puts its text into the box, to be edited and sent as usual; typing ``/name`` and Tab or
Enter does the same.
"""

from __future__ import annotations

import reflex as rx


def _item(q: rx.Var) -> rx.Component:
    return rx.el.li(rx.el.button(
        rx.el.strong("/", q["name"]), " ", rx.el.span(q["scope"], class_name="cm-qr-scope"),
        rx.el.span(q["body"], class_name="cm-qr-body"),
        type="button", class_name="cm-qr-item",
        custom_attrs={"data-quick-reply": q["name"]},
        aria_label="Insert quick reply " + q["name"].to(str),
    ))


def quick_reply_menu(S) -> rx.Component:
    return rx.fragment(
        rx.el.div(id="quick-replies", hidden=True,
                  custom_attrs={"data-quick-replies": S.quick_replies_json}),
        rx.cond(
            S.quick_replies.length() > 0,
            rx.el.details(
                rx.el.summary("Quick replies (or type / and a name)",
                              class_name="cm-qr-summary"),
                rx.el.ul(rx.foreach(S.quick_replies, _item), class_name="cm-qr-list",
                         aria_label="Quick replies"),
                class_name="cm-qr", data_testid="quick-replies",
            ),
        ),
    )
