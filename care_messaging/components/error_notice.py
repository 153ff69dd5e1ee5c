"""The one way a refusal or failure is shown: a red alert (read out at once by screen readers)
that exists only while there is something to say."""

from __future__ import annotations

import reflex as rx


def error_notice(message: rx.Var, *, when: rx.Var | None = None, size: str = "2"
                 ) -> rx.Component:
    """``message`` in a red ``role="alert"`` callout while it is not empty (or while ``when``)."""
    shown = (message != "") if when is None else when
    return rx.cond(shown, rx.callout(message, icon="triangle-alert", color_scheme="red",
                                     role="alert", size=size, width="100%"))
