"""The Reflex app: pages, and the HTTP routes that must not go through the websocket."""

from __future__ import annotations

import gc

import reflex as rx
from starlette.applications import Starlette

from care_messaging import realtime
from care_messaging.components.connection import overlay as connection_overlay
from care_messaging.jobs.in_app import job_worker
from care_messaging.pages.account import AccountState, account_page
from care_messaging.pages.admin import AdminState, admin_page
from care_messaging.pages.dashboard import DashboardState, dashboard_page
from care_messaging.pages.login import LoginState, login_page
from care_messaging.pages.message_search import MessageSearchState, search_page
from care_messaging.pages.patient_profile import PatientProfileState, patient_profile_page
from care_messaging.pages.portal import PortalState, portal_page
from care_messaging.pages.portal_help import help_page
from care_messaging.pages.response_times import ResponseTimesState, response_times_page
from care_messaging.services import events
from care_messaging.state.auth import AuthState
from care_messaging.state.restore import RestoreViewOnHydrate
from care_messaging.state.sealed_redis import seal_redis_states
from care_messaging.state.tab_owner import TabOwnerMiddleware, sweep_ended_sessions
from care_messaging.web import offloop
from care_messaging.web.attachment_routes import routes as attachment_routes
from care_messaging.web.auth_routes import routes as auth_routes
from care_messaging.web.fhir_routes import routes as fhir_routes
from care_messaging.web.first_rows import first_rows
from care_messaging.web.origins import page_referrer_policy
from care_messaging.web.request_guard import request_guard
from care_messaging.web.security_headers import security_headers


def _default_app_wraps() -> dict:
    return rx.App.__dataclass_fields__["app_wraps"].default_factory()  # type: ignore[misc]


api = Starlette(routes=[*auth_routes, *attachment_routes, *fhir_routes])

app = rx.App(
    # The Starlette routes first, the dashboard served with its first rows, the request guard
    # (session and size checks before any body is read, /_upload included), then security
    # headers around everything (pages included).
    api_transformer=[api, first_rows, request_guard, security_headers],
    theme=rx.theme(accent_color="teal", radius="medium"),
    # Rows, chart bars, the unread pulse and `.hide-narrow` (on phones the user's name gives way
    # so "Sign out" always stays on screen).
    stylesheets=["/care.css", "/a11y.css"],
    head_components=[
        rx.el.meta(name="referrer", content=page_referrer_policy()),
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
        rx.el.script(src="/care.js", defer=True),
        rx.el.script(src="/outbox.js", defer=True),
        rx.el.script(src="/drafts.js", defer=True),
        # Quick replies into the reply box (components/quick_reply_menu.py).
        rx.el.script(src="/quick_replies.js", defer=True),
        # Times in the reader's own zone and locale (components/local_time.py).
        rx.el.script(src="/local_time.js", defer=True),
        # A thread opened from a search result scrolls to the found message.
        rx.el.script(src="/jump_to_message.js", defer=True),
    ],
    # Reflex's wraps, with its connection toast replaced by a notice that never covers the
    # reply box (components/connection.py).
    app_wraps={**_default_app_wraps(), (5, "Overlay"): connection_overlay},
)


def freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, compiled pages, Reflex's tables) out of
    the cycle collector's reach. A full collection of that heap takes 50-90 ms here (measured
    with gc.callbacks), a pause every request in flight would wait for; afterwards the
    collector walks only what the running app allocates."""
    gc.collect()
    gc.freeze()


app.register_lifespan_task(freeze_startup_heap)
# On PostgreSQL database work runs in threads: the loop must get the GIL back promptly.
app.register_lifespan_task(offloop.shorten_gil_switch)
# Scaled out, tab states (PHI, the session cookie in the request headers) live in Redis:
# sealed there under the app's key.
seal_redis_states(app)
# A tab's state tree belongs to the session it was built for: emptied before any event (the
# hydrate snapshot included) that comes with another session's cookie, and when it ends.
app.add_middleware(TabOwnerMiddleware())
app.register_lifespan_task(sweep_ended_sessions)
app.add_middleware(RestoreViewOnHydrate(pages={"/dashboard": DashboardState,
                                               "/portal": PortalState}))
# Durable jobs (notifications, reminders, digest) run here too: no tab needs to be open.
app.register_lifespan_task(job_worker)
# Live delivery is one consumer of the committed domain events (services/events.py).
events.on_commit(realtime.on_domain_events)
app.register_lifespan_task(realtime.remember_loop)
# Scaled out, a live event is applied by the worker that holds the tab's socket.
app.register_lifespan_task(realtime.listen_for_forwarded)


def index() -> rx.Component:
    return rx.fragment()


# A full load of "/" is redirected by the server (web/auth_routes.root_route); navigating to
# it inside the app lands here and is sent on the same way.
app.add_page(index, route="/", title="Care Messaging", on_load=AuthState.go_home)
app.add_page(login_page, route="/login", title="Sign in · Care Messaging", on_load=LoginState.load)
app.add_page(dashboard_page, route="/dashboard", title="Messages · Care Messaging",
             on_load=DashboardState.load)
app.add_page(patient_profile_page, route="/patients", title="Patient · Care Messaging",
             on_load=PatientProfileState.load)
app.add_page(portal_page, route="/portal", title="My messages · Care Messaging",
             on_load=PortalState.load)
app.add_page(help_page, route="/portal/help", title="Help · Care Messaging",
             on_load=PortalState.load_help)
app.add_page(account_page, route="/account", title="Account · Care Messaging",
             on_load=[AccountState.load, AccountState.load_quick_replies])
app.add_page(search_page, route="/search", title="Search messages · Care Messaging",
             on_load=MessageSearchState.load)
app.add_page(admin_page, route="/admin", title="Audit log · Care Messaging",
             on_load=[AdminState.load, AdminState.load_settings, AdminState.load_quick_replies])
app.add_page(response_times_page, route="/response-times",
             title="Response times · Care Messaging", on_load=ResponseTimesState.load)


