"""The "New Message" dialog: pick one of your patients, topic, category, priority, message."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.provider_format import CATEGORY_LABELS, PRIORITY_LABELS

SELECT_STYLE = {"padding": "6px", "borderRadius": "6px", "width": "100%"}


def _field(label: str, control: rx.Component, id_: str) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=id_, style={"fontWeight": 500, "fontSize": "14px"}),
        control, spacing="1", width="100%",
    )


def new_message_dialog(S) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New Message"),
            rx.dialog.description("Start a conversation with one of your patients.", size="2"),
            rx.form(
                rx.vstack(
                    rx.cond(S.new_error != "",
                            rx.callout(S.new_error, icon="triangle-alert", color_scheme="red",
                                       role="alert", width="100%")),
                    _field("Find patient",
                           rx.input(id="patient-search", value=S.patient_query,
                                    on_change=S.search_patients.debounce(300),
                                    placeholder="Name or patient ID", width="100%"),
                           "patient-search"),
                    _field("Patient",
                           rx.el.select(
                               rx.foreach(S.patient_options,
                                          lambda o: rx.el.option(o["label"], value=o["id"])),
                               id="patient_id", name="patient_id", value=S.new_patient_id,
                               on_change=S.set_new_patient, style=SELECT_STYLE),
                           "patient_id"),
                    _field("Topic", rx.input(id="topic", name="topic", max_length=200,
                                             width="100%"), "topic"),
                    rx.hstack(
                        _field("Category", rx.el.select(
                            *[rx.el.option(t, value=v) for v, t in CATEGORY_LABELS.items()],
                            id="category", name="category", default_value="check_in",
                            style=SELECT_STYLE), "category"),
                        _field("Priority", rx.el.select(
                            *[rx.el.option(t, value=v) for v, t in PRIORITY_LABELS.items()],
                            id="new-priority", name="priority", default_value="routine",
                            style=SELECT_STYLE), "new-priority"),
                        width="100%",
                    ),
                    _field("Message", rx.text_area(id="first-message", name="body", rows="4",
                                                   max_length=5000, width="100%"),
                           "first-message"),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray",
                                                  type="button")),
                        rx.button("Send Message", type="submit"),
                        justify="end", width="100%",
                    ),
                    spacing="3", width="100%",
                ),
                on_submit=S.create,
                reset_on_submit=False,
            ),
            max_width="520px",
        ),
        open=S.new_open,
        on_open_change=S.set_new_open,
    )
