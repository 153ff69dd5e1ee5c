"""The app for ``test_loop_never_blocks``: the production factory, on a loop in asyncio's debug
mode whose slow-step reports go to the server's stderr whatever logging setup the app has.

Uvicorn calls the factory inside its running loop, so the loop is reachable here.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from care_messaging.care_messaging import app as production_app

SLOW_STEP_SECONDS = 0.1


def app():
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_STEP_SECONDS
    reports = logging.getLogger("asyncio")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    reports.addHandler(handler)
    reports.setLevel(logging.WARNING)
    reports.disabled = False
    return production_app()
