"""A time shown in the reader's own time zone and locale.

The server knows only UTC, and a browser's zone and 12/24-hour habit are the reader's, so the
page carries the instant (ISO-8601 UTC, from ``presenters.provider.when``) in a ``<time>`` element
and assets/local_time.js writes its text: "9:40 PM" today, "Yesterday", "Nov 14, 9:40 PM"...
The element has no children of its own, so React never overwrites what the script wrote; when
React reuses it for another row it changes ``datetime`` and the script writes it again.
web/first_rows.py writes the same element into the HTML it serves (``time_html``).
"""

from __future__ import annotations

import html
from typing import Literal

import reflex as rx

# list: a conversation row; bubble: a message or a view; receipt: after "Read";
# full: the audit log (date, year and seconds always).
Style = Literal["list", "bubble", "receipt", "full"]
ATTRIBUTE = "data-local-time"


def local_time(value: rx.Var | str, style: Style, **props) -> rx.Component:
    """A ``<time>`` element for ``value`` (ISO-8601 UTC, "" for none) that the page's script
    fills in."""
    return rx.el.time(date_time=value, custom_attrs={ATTRIBUTE: style}, **props)


def time_html(value: str, style: Style) -> str:
    """The same element as ``local_time`` as HTML, for pages served with rows in them."""
    return (f'<time datetime="{html.escape(value, quote=True)}" {ATTRIBUTE}="{style}">'
            "</time>")
