"""The reply box of an open thread, the same for providers and patients, and its link to the
browser's outbox (assets/outbox.js).

What is typed must survive a dropped connection, a server restart and a reload, so sending is
the browser's job first: on submit the outbox script gives the message its id, keeps it in the
tab's ``sessionStorage``, clears the box and draws the "Sending…" bubble itself; then it hands
the message to the page state's ``send_reply`` through the function the bridge below installs,
one at a time and in order, until an acknowledgement (``outbox_acks``) names its id.
"""

from __future__ import annotations

import reflex as rx
from reflex.event import EventChain
from reflex_base.vars.base import VarData

from care_messaging.components.attach_bar import UPLOAD_ID, attach_bar
from care_messaging.components.error_notice import error_notice
from care_messaging.components.message_changes import change_area, draft_link
from care_messaging.services.message_sending import MAX_BODY_CHARS


def _bridge(handler, *, name: str, ready: str, key: str) -> rx.Component:
    """A render-less piece whose hook gives a page script ``window.<name>``: a function that
    queues one ``handler`` event on this page's Reflex event loop (then ``ready`` fires)."""
    send = rx.Var.create(EventChain.create(value=handler, args_spec=lambda message: [message],
                                           key=key))
    hook = rx.Var(
        f"useEffect(() => {{ window.{name} = " + str(send) + "; "
        f"window.dispatchEvent(new Event('{ready}')); "
        f"return () => {{ window.{name} = undefined; }}; }}, []);",
        _var_data=VarData.merge(send._get_all_var_data(),
                                VarData(imports={"react": ["useEffect"]})),
    )

    class OutboxBridge(rx.Fragment):
        def add_hooks(self) -> list[str | rx.Var]:
            return [hook]

    return OutboxBridge.create()


def _outbox_bridge(send_handler) -> rx.Component:
    """``window.careOutboxSend`` for assets/outbox.js: queues one ``send_reply``."""
    return _bridge(send_handler, name="careOutboxSend", ready="care-outbox-ready", key="outbox")


def composer(S, *, label: str, placeholder: str, extras: rx.Component | None = None
             ) -> rx.Component:
    """The whole reply area of a thread, the same on both sides: why a send was refused, who
    is typing, the box, and the files waiting to go (``S`` mixes in the upload state).
    ``extras``: what one side adds under the box (the providers' quick replies)."""
    return rx.vstack(
        error_notice(S.send_error),
        rx.text(S.typing_label, size="1", color_scheme="gray", role="status",
                aria_live="polite", min_height="1.2em"),
        composer_form(S, label=label, placeholder=placeholder,
                      has_files=S.pending_files.length() > 0),
        attach_bar(S, UPLOAD_ID),
        change_area(S),
        # The reply box's draft: kept on the server (assets/drafts.js saves it on a pause).
        draft_link(S),
        _bridge(S.save_draft, name="careDraftSave", ready="care-draft-ready", key="draft"),
        *([extras] if extras is not None else []),
        width="100%", padding="0.75em", border_top=f"1px solid {rx.color('gray', 5)}",
    )


def composer_form(S, *, label: str, placeholder: str, has_files: rx.Var | bool = False
                  ) -> rx.Component:
    """The form the outbox script takes over. ``S`` has ``open_id``, ``typing`` and
    ``outbox_unavailable``."""
    return rx.form(
        rx.hstack(
            rx.text_area(name="body", placeholder=placeholder, aria_label=label,
                         enter_key_submit=True, auto_height=True, width="100%",
                         max_length=MAX_BODY_CHARS, rows="2",
                         on_change=S.typing.throttle(1500)),
            rx.button(rx.icon("send", size=16), "Send", type="submit"),
            width="100%", align="end",
        ),
        # Only reached when the outbox script is not running (it stops the submit first):
        # the text stays in the box and the page says why nothing was sent.
        on_submit=S.outbox_unavailable,
        reset_on_submit=False,
        width="100%",
        custom_attrs={
            "data-outbox": "1",
            "data-conversation-id": S.open_id,
            "data-has-files": rx.cond(has_files, "1", ""),
        },
    )


def outbox_link(S) -> rx.Component:
    """On every page with a thread (whether one is open or not, so a reload with messages
    still pending sends them): whose outbox this tab holds, the acknowledgements of its sends,
    and the bridge. ``S`` has ``outbox_owner``, ``outbox_acks`` and ``send_reply``."""
    return rx.fragment(
        rx.el.div(id="outbox-link", hidden=True,
                  custom_attrs={"data-outbox-owner": S.outbox_owner,
                                "data-outbox-acks": S.outbox_acks}),
        _outbox_bridge(S.send_reply),
    )
