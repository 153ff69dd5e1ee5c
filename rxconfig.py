"""Reflex configuration: everything environment-specific comes from care_messaging.settings."""

import os
import sys

import reflex as rx

from care_messaging.settings import get_settings

_settings = get_settings()
_backend_only = bool(os.environ.get("CARE_BACKEND_ONLY")) or "--backend-only" in sys.argv

config = rx.Config(
    app_name="care_messaging",
    # A clinical product phones nowhere.
    telemetry_enabled=False,
    # The browser must never be able to set arbitrary state vars.
    state_auto_setters=False,
    db_url=_settings.database_url,
    redis_url=_settings.redis_url or None,
    state_manager_mode="redis" if _settings.redis_url else "memory",
    cors_allowed_origins=_settings.allowed_origins,
    # One port (the default): frontend and backend both on CARE_PORT. Split (`reflex run` in
    # development, `reflex export` + a static server): the backend on CARE_BACKEND_ORIGIN's
    # port (or CARE_BACKEND_PORT), the pages on CARE_PORT (web/origins.py).
    backend_port=_settings.backend_port,
    # A backend-only process (scale-out worker, split deployment) must not name a frontend port.
    frontend_port=None if _backend_only else _settings.port,
    # Where the pages open the websocket and post uploads; where links to pages point.
    api_url=_settings.backend_url,
    deploy_url=_settings.public_origin,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin()],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
