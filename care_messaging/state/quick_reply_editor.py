"""Managing quick replies: the admin's clinic-wide ones (admin page) and a provider's own
(account page). Thin handlers over services/quick_replies.py, which checks who may change
which and audits every change.

A mixin of the page states themselves (``AccountState``, ``AdminState``), not a state of its
own: Reflex builds every state class of the app for every tab, so each extra class costs
every open tab its instance and bookkeeping (bench/profiles/memory.md)."""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from care_messaging.db import session_scope
from care_messaging.services import quick_replies
from care_messaging.services.actors import Actor
from care_messaging.services.errors import ServiceError
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import PAGE_ROLE, guarded
from care_messaging.state.shared_values import no_rows


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


class QuickReplyEditorState(AuthState, mixin=True):
    CLINIC_WIDE: ClassVar[bool] = False
    ROLE: ClassVar[str] = "provider"

    qr_rows: list[dict[str, str]] = rx.field(default_factory=no_rows)
    qr_error: str = ""
    qr_notice: str = ""
    qr_edit_id: str = ""
    qr_edit_name: str = ""
    qr_edit_body: str = ""

    def _qr_reload(self, actor) -> None:
        with session_scope() as session:
            self.qr_rows = [{"id": str(v.id), "name": v.name, "body": v.body}
                            for v in quick_replies.list_own(session, actor=actor,
                                                            clinic_wide=self.CLINIC_WIDE)]

    # Part of the page's load, which redirects a refused tab itself.
    @guarded(PAGE_ROLE, silent=True)
    def load_quick_replies(self, actor: Actor):
        self.qr_error = self.qr_notice = ""
        self._qr_reload(actor)
        return None

    @guarded(PAGE_ROLE)
    def edit_quick_reply(self, actor: Actor, quick_reply_id: str):
        row = next((r for r in self.qr_rows if r["id"] == str(quick_reply_id)), None)
        self.qr_edit_id = row["id"] if row else ""
        self.qr_edit_name = row["name"] if row else ""
        self.qr_edit_body = row["body"] if row else ""
        return None

    @guarded(PAGE_ROLE)
    def save_quick_reply(self, actor: Actor, form: dict):
        self.qr_error = self.qr_notice = ""
        with session_scope() as session:
            try:
                saved = quick_replies.save(
                    session, actor=actor, clinic_wide=self.CLINIC_WIDE,
                    name=str(form.get("name", "")), body=str(form.get("body", "")),
                    quick_reply_id=_int(form.get("id")) if form.get("id") else None)
            except ServiceError as error:
                self.qr_error = str(error)
                return None
        self.qr_notice = f"Saved /{saved.name}."
        self.qr_edit_id = self.qr_edit_name = self.qr_edit_body = ""
        self._qr_reload(actor)
        return None

    @guarded(PAGE_ROLE)
    def delete_quick_reply(self, actor: Actor, quick_reply_id: str):
        self.qr_error = self.qr_notice = ""
        with session_scope() as session:
            try:
                quick_replies.delete(session, actor=actor, clinic_wide=self.CLINIC_WIDE,
                                     quick_reply_id=_int(quick_reply_id))  # type: ignore[arg-type]
            except ServiceError as error:
                self.qr_error = str(error)
                return None
        self.qr_notice = "Deleted."
        self._qr_reload(actor)
        return None

