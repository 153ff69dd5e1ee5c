"""A tab that reconnects to a restarted server sees what it saw before, from the first frame.

Reflex answers a reconnect with a snapshot of the tab's whole state, then runs the page's
on_load. After a restart (a deploy, a crash) that state is new, so the snapshot would blank
the open thread for a moment before on_load rebuilt it; with it would go the bubbles of
messages still in the browser's outbox. This middleware lets the page rebuild its view
(``restore_for_hydrate``) before the snapshot is taken. A live state is left alone.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any

from reflex.middleware.middleware import Middleware
from reflex_base.constants import CompileVars
from reflex_base.utils.format import format_event_handler

if TYPE_CHECKING:
    from reflex.state import BaseState


@functools.cache
def _hydrate_event_names() -> frozenset[str]:
    from reflex.state import State

    return frozenset(format_event_handler(State.event_handlers[name])
                     for name in (CompileVars.HYDRATE, CompileVars.HYDRATE_AND_LOAD))


@dataclasses.dataclass
class RestoreViewOnHydrate(Middleware):
    """``pages``: route path -> page state class with ``restore_for_hydrate``."""

    pages: dict[str, Any] = dataclasses.field(default_factory=dict)

    async def preprocess(self, app: Any, state: BaseState, event: Any) -> None:
        if event.name not in _hydrate_event_names():
            return None
        page_cls = self.pages.get(state.router.url.path.rstrip("/") or "/")
        if page_cls is not None:
            page = await state.get_state(page_cls)
            await page.restore_for_hydrate()
        return None  # the hydrate itself goes on as usual
