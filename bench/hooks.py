"""The page-state contract the live scenarios drive.

Each page hook names a Reflex state class (``module:Class``) and its public event handlers.
The live scenarios check that the class has every handler named here; while one is missing
they report ``"met": null, "note": "pending page handlers"`` instead of failing.

What the scenarios send (payload keys are configurable below):
- ``load``                - no payload; the page's on_load (guards the role, registers the tab
                            with care_messaging.realtime).
- ``open_conversation``   - ``{open_key: <conversation id>}``; shows that thread in the tab.
- ``send_message``        - ``{body_key: <text>, client_id_key: <uuid hex>}`` (client_id_key
                            may be None if the handler makes its own id); an async handler
                            that stores the message and publishes it.
A message counts as delivered when a delta pushed to the *other* tab (the backend method
``_apply_live_event`` run by realtime.publish) contains the message's unique text anywhere.

Browser scenario selectors (Playwright CSS) are listed per page too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageHook:
    path: str
    state: str
    load: str = "load"
    open_conversation: str = "open_conversation"
    send_message: str = "send_message"
    open_key: str = "conversation_id"
    body_key: str = "body"
    client_id_key: str | None = "client_msg_id"
    # When the send handler takes the form as one dict argument, its parameter name.
    form_key: str | None = None
    # Browser scenario: how to open a thread, type, send, and find the thread's messages.
    conversation_selector: str = "[data-conversation-id='{id}']"
    composer_selector: str = "textarea[name='body']"
    send_selector: str = "button[type='submit'][data-action='send']"
    thread_selector: str = "[data-testid='thread']"

    def handlers(self) -> tuple[str, ...]:
        return (self.load, self.open_conversation, self.send_message)


_COMPOSER = "form:has(textarea[name='body'])"
PROVIDER_PAGE = PageHook(
    path="/dashboard", state="care_messaging.pages.dashboard:DashboardState",
    send_message="send_reply", form_key="form_data",
    conversation_selector="a[href='/dashboard?c={id}']",
    send_selector=f"{_COMPOSER} button[type='submit']", thread_selector="[role='log']",
)
PATIENT_PAGE = PageHook(
    path="/portal", state="care_messaging.pages.portal:PortalState",
    send_message="send_reply", form_key="form_data",
    conversation_selector="a[href='/portal?c={id}']",
    send_selector=f"{_COMPOSER} button[type='submit']", thread_selector="[role='log']",
)


def missing_handlers(hook: PageHook) -> list[str]:
    """Handlers named by ``hook`` that its state class does not define (yet)."""
    import importlib

    module_name, _, class_name = hook.state.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        return [hook.state]
    names = [h for h in hook.handlers() if h not in getattr(cls, "event_handlers", {})]
    if "_apply_live_event" not in dir(cls):
        names.append("_apply_live_event")
    return names


def preload() -> None:
    """Import the page modules in the caller's context (before any ``asyncio.run``).

    Reflex registers state classes in a context variable; a module first imported inside an
    event loop's copied context would leave later imports without it.
    """
    import importlib

    for hook in (PROVIDER_PAGE, PATIENT_PAGE):
        importlib.import_module(hook.state.partition(":")[0])
