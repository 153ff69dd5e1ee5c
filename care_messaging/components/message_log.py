"""The scrolling list of an open thread's messages, the same for providers and patients."""

from __future__ import annotations

import reflex as rx

from care_messaging.components.message_bubble import message_bubble


def _older_messages(S) -> rx.Component:
    """The top of the thread: a button for the page before the oldest shown one, which
    assets/care.js presses for the reader when it scrolls into view (older pages load on
    scroll; the button stays for the keyboard and screen readers), or a marker once the whole
    history is shown."""
    return rx.cond(
        S.has_older,
        rx.button(
            rx.cond(S.loading_older, "Loading older messages…", "Load older messages"),
            on_click=S.load_older, loading=S.loading_older, disabled=S.loading_older,
            variant="soft", size="1", align_self="center",
            custom_attrs={"data-load-older": "1"},
        ),
        rx.cond(
            S.messages.length() > 0,
            rx.text("Start of conversation", size="1", color_scheme="gray",
                    align="center", width="100%", class_name="thread-start"),
        ),
    )


def message_log(S) -> rx.Component:
    """``S`` has ``messages``, ``recent``, ``has_older``, ``loading_older``, ``load_older``
    and what ``message_bubble`` needs."""
    # column-reverse keeps the view pinned to the newest message with no script (the CSP
    # forbids the eval that server-sent scroll events need in Reflex 0.10); it also keeps the
    # reader's place when an older page is added above.
    return rx.box(
        rx.vstack(
            _older_messages(S),
            rx.foreach(S.messages, lambda m: message_bubble(m, S)),
            # New messages arrive in a short tail list, so one message does not resend them all.
            rx.foreach(S.recent, lambda m: message_bubble(m, S)),
            # Messages of this thread still in the tab's outbox ("Sending…", "Not sent yet"):
            # drawn by assets/outbox.js from sessionStorage, so a dropped connection, a server
            # restart or a reload never takes them off the screen. React renders no children
            # here and leaves the script's alone.
            rx.el.div(id="outbox-bubbles", class_name="outbox-bubbles",
                      custom_attrs={"data-conversation-id": S.open_id}),
            width="100%", spacing="2",
        ),
        display="flex", flex_direction="column-reverse", width="100%", padding="0.75em",
        flex="1", min_height="0", overflow_y="auto", role="log", aria_label="Messages",
        # Screen readers announce each new message without taking the reader's place.
        aria_live="polite", aria_relevant="additions",
        aria_busy=rx.cond(S.loading_older, "true", "false"),
    )
