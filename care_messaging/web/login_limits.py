"""Failed sign-ins per source address, with the `limits` library.

The account lock (services/throttle.py) stops guessing one account's password; this stops one
address from guessing across many accounts (password spraying), and it answers before any
password is hashed or any row written, so a flood from one address costs almost nothing.
Only failures count: a clinic behind one NAT address signs in all day without reaching it.

Storage: in memory per process by default; in Redis when the app is scaled out
(``REFLEX_REDIS_URL``), so every worker counts the same attempts. If Redis cannot be reached
the check lets the attempt through (the account lock still applies) rather than locking
every user out.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from care_messaging.settings import get_settings

log = logging.getLogger(__name__)
NAMESPACE = "care-sign-in-failures"


class SourceLimiter:
    def __init__(self, limit: str, redis_url: str = "") -> None:
        self.item: RateLimitItem = parse(limit)
        if redis_url:
            storage = storage_from_string(f"async+{redis_url}", implementation="redispy")
        else:
            storage = storage_from_string("async+memory://")
        self.limiter = MovingWindowRateLimiter(storage)

    async def blocked(self, address: str) -> bool:
        """True when ``address`` has used up its failed attempts for now."""
        try:
            return not await self.limiter.test(self.item, NAMESPACE, address)
        except Exception:  # storage down: fall back to the account lock
            log.warning("sign-in rate limit storage unavailable", exc_info=True)
            return False

    async def failed(self, address: str) -> None:
        try:
            await self.limiter.hit(self.item, NAMESPACE, address)
        except Exception:
            log.warning("sign-in rate limit storage unavailable", exc_info=True)


# One per event loop: built inside the loop (the in-memory storage starts an expiry task
# there); the server has one loop, in-process test clients each start their own.
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SourceLimiter]
_limiters = weakref.WeakKeyDictionary()


def source_limiter() -> SourceLimiter:
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        settings = get_settings()
        _limiters[loop] = SourceLimiter(settings.login_ip_limit, settings.redis_url)
    return _limiters[loop]
