"""Reflex configuration: everything environment-specific comes from care_messaging.settings."""

import os
import sys

import reflex as rx

from care_messaging.settings import get_settings

_settings = get_settings()
_backend_only = bool(os.environ.get("CARE_BACKEND_ONLY")) or "--backend-only" in sys.argv

# Scaled out, Reflex keeps each tab's state in Redis. Chosen on purpose (bench/profiles/scaleout.md):
# - the opportunistic lock: the worker that runs a tab's events keeps its state in memory for
#   OPLOCK_HOLD_MS after it takes the tab's lock and writes it back once, instead of lock + load
#   + save + unlock in Redis for every event. Live events are applied by that same worker
#   (realtime/forwarding.py), so the lease is rarely contended; another worker that needs the
#   state (a reconnect elsewhere, a sign-out route) breaks the lease and waits for the write.
#   The hold is Reflex's own default, half the lock expiry: every active tab pays one lease
#   cycle (lock, load and unseal, seal and write, unlock) per hold. 5 s instead of the 2 s held
#   before halves the cycles, leaves no lock contended, and took less worker CPU per delivered
#   message in nine of twelve alternating pairs (bench/profiles/scaleout.md, "Sixth session").
#   What a killed worker had not written back is view state only, at most one hold old
#   (messages are in the database; the page reloads its data when the tab reconnects).
# - lock expiry 10 s (Reflex's default): the longest event holds a tab's lock that long before
#   another may take it; a killed worker's tabs wait at most that before reconnecting elsewhere.
# - token expiry: a tab's state outlives its last event by the idle sign-out plus 5 minutes; past
#   that its session has ended and the page starts over, so Redis keeps no PHI longer.
REDIS_LOCK_EXPIRATION_MS = 10_000
OPLOCK_HOLD_MS = REDIS_LOCK_EXPIRATION_MS // 2
REDIS_TOKEN_EXPIRATION_S = _settings.idle_timeout_seconds + 5 * 60
if _settings.redis_url:
    os.environ.setdefault("REFLEX_OPLOCK_ENABLED", "true")
    os.environ.setdefault("REFLEX_OPLOCK_HOLD_TIME", f"{OPLOCK_HOLD_MS}ms")

config = rx.Config(
    app_name="care_messaging",
    # A clinical product phones nowhere.
    telemetry_enabled=False,
    # The browser must never be able to set arbitrary state vars.
    state_auto_setters=False,
    db_url=_settings.database_url,
    redis_url=_settings.redis_url or None,
    state_manager_mode="redis" if _settings.redis_url else "memory",
    redis_lock_expiration=REDIS_LOCK_EXPIRATION_MS,
    redis_token_expiration=REDIS_TOKEN_EXPIRATION_S,
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
