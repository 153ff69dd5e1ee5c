"""The Reflex app: pages, and the HTTP routes that must not go through the websocket."""

from __future__ import annotations

import gc

import reflex as rx
from starlette.applications import Starlette

from care_messaging import realtime
from care_messaging.jobs.in_app import job_worker
from care_messaging.pages.account import AccountState, account_page
from care_messaging.pages.admin import AdminState, admin_page
from care_messaging.pages.dashboard import DashboardState, dashboard_page
from care_messaging.pages.login import LoginState, login_page
from care_messaging.pages.patient_profile import PatientProfileState, patient_profile_page
from care_messaging.pages.portal import PortalState, portal_page
from care_messaging.pages.portal_help import HelpState, help_page
from care_messaging.services import events
from care_messaging.web.attachment_routes import routes as attachment_routes
from care_messaging.web.auth_routes import routes as auth_routes
from care_messaging.web.first_rows import first_rows
from care_messaging.web.security_headers import security_headers

api = Starlette(routes=[*auth_routes, *attachment_routes])

app = rx.App(
    # The Starlette routes first, the dashboard served with its first rows, then security
    # headers around everything (pages included).
    api_transformer=[api, first_rows, security_headers],
    theme=rx.theme(accent_color="teal", radius="medium"),
    # Rows, chart bars, the unread pulse and `.hide-narrow` (on phones the user's name gives way
    # so "Sign out" always stays on screen).
    stylesheets=["/care.css"],
    head_components=[
        rx.el.meta(name="referrer", content="same-origin"),
        rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
        rx.el.script(src="/care.js", defer=True),
    ],
)


def freeze_startup_heap() -> None:
    """Move everything alive after start-up (modules, compiled pages, Reflex's tables) out of
    the cycle collector's reach. A full collection of that heap takes 50-90 ms here (measured
    with gc.callbacks), a pause every request in flight would wait for; afterwards the
    collector walks only what the running app allocates."""
    gc.collect()
    gc.freeze()


app.register_lifespan_task(freeze_startup_heap)
# Durable jobs (notifications, reminders, digest) run here too: no tab needs to be open.
app.register_lifespan_task(job_worker)
# Live delivery is one consumer of the committed domain events (services/events.py).
events.on_commit(realtime.on_domain_events)
app.register_lifespan_task(realtime.remember_loop)


def index() -> rx.Component:
    return rx.fragment()


app.add_page(index, route="/", title="Care Messaging", on_load=LoginState.load)
app.add_page(login_page, route="/login", title="Sign in · Care Messaging", on_load=LoginState.load)
app.add_page(dashboard_page, route="/dashboard", title="Messages · Care Messaging",
             on_load=DashboardState.load)
app.add_page(patient_profile_page, route="/patients", title="Patient · Care Messaging",
             on_load=PatientProfileState.load)
app.add_page(portal_page, route="/portal", title="My messages · Care Messaging",
             on_load=PortalState.load)
app.add_page(help_page, route="/portal/help", title="Help · Care Messaging", on_load=HelpState.load)
app.add_page(account_page, route="/account", title="Account · Care Messaging",
             on_load=AccountState.load)
app.add_page(admin_page, route="/admin", title="Audit log · Care Messaging", on_load=AdminState.load)


