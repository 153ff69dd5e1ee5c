"""The "New Message" dialog: find and pick one of your patients, topic, category, priority,
reason, message.

No patient is chosen when the dialog opens: a rushed provider must pick one on purpose, from
a searchable list (the server searches only the provider's own patients and sends a page of
matches) where every match shows its patient ID and date of birth, so namesakes differ.
"""

from __future__ import annotations

import reflex as rx

from care_messaging.components.error_notice import error_notice
from care_messaging.presenters.labels import CATEGORY_LABELS, PRIORITY_LABELS
from care_messaging.services.conversations import MAX_REASON_CHARS, MAX_TOPIC_CHARS
from care_messaging.services.message_sending import MAX_BODY_CHARS

SELECT_STYLE = {"padding": "6px", "borderRadius": "6px", "width": "100%"}
LABEL_STYLE = {"fontWeight": 500, "fontSize": "14px"}


def _field(label: str, control: rx.Component, id_: str, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=id_, style=LABEL_STYLE),
        control,
        rx.text(hint, size="1", color_scheme="gray", id=f"{id_}-hint") if hint else rx.fragment(),
        spacing="1", width="100%",
    )


def _match(option: rx.Var, S) -> rx.Component:
    """One patient in the list of matches: a button that chooses them."""
    return rx.el.li(
        rx.el.button(
            rx.el.span(option["name"], class_name="cm-pick-name"),
            rx.el.span(option["detail"], class_name="cm-pick-detail"),
            type="button",
            on_click=S.choose_patient(option["id"]),
            class_name="cm-pick",
        ),
    )


def _chosen(S) -> rx.Component:
    """The chosen patient, named in full, with a way back to the search."""
    return rx.hstack(
        rx.icon("user-check", size=18, color=rx.color("teal", 9)),
        rx.vstack(
            rx.text(S.new_patient_name, weight="bold", size="2"),
            rx.text(S.new_patient_detail, size="1", color_scheme="gray"),
            spacing="0", flex="1", min_width="0",
        ),
        rx.button("Change patient", type="button", variant="soft", size="1",
                  on_click=S.clear_patient),
        align="center", width="100%", padding="0.5em",
        border=f"1px solid {rx.color('teal', 7)}", border_radius="6px",
        aria_label="Chosen patient", role="group",
    )


def _picker(S) -> rx.Component:
    return rx.vstack(
        rx.input(id="patient-search", value=S.patient_query,
                 on_change=S.search_patients.debounce(250), type="search",
                 placeholder="Name, patient ID or date of birth (YYYY-MM-DD)",
                 auto_complete="off", width="100%",
                 aria_describedby="patient-matches-count"),
        rx.text(S.patient_matches_label, id="patient-matches-count", size="1",
                color_scheme="gray", role="status", aria_live="polite"),
        rx.el.ul(
            rx.foreach(S.patient_options, lambda o: _match(o, S)),
            aria_label="Matching patients",
            class_name="cm-pick-list",
        ),
        spacing="1", width="100%",
    )


def new_message_dialog(S) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New Message"),
            rx.dialog.description("Start a conversation with one of your patients.", size="2"),
            rx.form(
                rx.vstack(
                    error_notice(S.new_error),
                    rx.el.input(type="hidden", name="patient_id", value=S.new_patient_id),
                    rx.cond(
                        S.new_patient_id != "",
                        rx.vstack(rx.text("Patient", style=LABEL_STYLE), _chosen(S),
                                  spacing="1", width="100%"),
                        rx.vstack(rx.el.label("Find patient", html_for="patient-search",
                                              style=LABEL_STYLE),
                                  _picker(S), spacing="1", width="100%"),
                    ),
                    _field("Topic", rx.input(id="topic", name="topic", max_length=MAX_TOPIC_CHARS,
                                             width="100%"), "topic"),
                    rx.hstack(
                        _field("Category", rx.el.select(
                            rx.el.option("Choose a category", value="", disabled=True),
                            *[rx.el.option(t, value=str(v)) for v, t in CATEGORY_LABELS.items()],
                            id="category", name="category", default_value="",
                            style=SELECT_STYLE), "category"),
                        _field("Priority", rx.el.select(
                            *[rx.el.option(t, value=str(v)) for v, t in PRIORITY_LABELS.items()],
                            id="new-priority", name="priority", default_value="routine",
                            style=SELECT_STYLE), "new-priority"),
                        width="100%",
                    ),
                    _field("Reason", rx.input(id="reason", name="reason",
                                              max_length=MAX_REASON_CHARS, width="100%",
                                              placeholder="e.g. Follow-up on your lab results",
                                              aria_describedby="reason-hint"),
                           "reason", hint="A few words on why you are writing; the patient "
                                          "sees it beside the category."),
                    _field("Message", rx.text_area(id="first-message", name="body", rows="4",
                                                   max_length=MAX_BODY_CHARS, width="100%"),
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
            max_width="560px",
        ),
        open=S.new_open,
        on_open_change=S.set_new_open,
    )
