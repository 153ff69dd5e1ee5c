"""A plain HTML <form> that the browser submits itself.

Reflex's ``rx.el.form`` always intercepts submit and prevents the default; sign-in and sign-out
need a real navigation so the server can set or clear the HttpOnly session cookie.
"""

from __future__ import annotations

from reflex_base.components.component import field
from reflex_base.vars.base import Var
from reflex_components_core.el.elements.base import BaseHTML


class NativeForm(BaseHTML):
    """``<form action method>`` with no client-side submit handler."""

    tag = "form"

    action: Var[str] = field(doc="URL the browser posts the form to")
    method: Var[str] = field(doc="HTTP method")


native_form = NativeForm.create
