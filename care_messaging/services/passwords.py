"""Password hashing: argon2id (OWASP/ASVS parameters), bcrypt accepted only to upgrade."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from passlib.context import CryptContext

# ASVS 2.4 / OWASP: argon2id with m >= 19 MiB (19456 KiB), t >= 2, p = 1.
ARGON2_MEMORY_KIB = 19456
ARGON2_TIME_COST = 2

password_context = CryptContext(
    schemes=["argon2", "bcrypt"],
    deprecated=["bcrypt"],
    argon2__type="ID",
    argon2__memory_cost=ARGON2_MEMORY_KIB,
    argon2__time_cost=ARGON2_TIME_COST,
    argon2__parallelism=1,
    # bcrypt silently ignores bytes past 72; truncate explicitly so long input never raises.
    bcrypt__truncate_error=False,
)

# A real hash to verify against when the account does not exist, so timing does not tell.
_DUMMY_HASH = password_context.hash("care-messaging-timing-equaliser")


T = TypeVar("T")
# Where the hash computations themselves run. Inline by default; the web layer hands them to a
# low-priority thread (web/offloop.py) so a storm of sign-ins cannot take the event loop's CPU.
def _inline(compute: Callable[[], Any]) -> Any:
    return compute()


_hash_runner: Callable[[Callable[[], Any]], Any] = _inline


def set_hash_runner(runner: Callable[[Callable[[], Any]], Any]) -> None:
    global _hash_runner
    _hash_runner = runner


def _hashed(compute: Callable[[], T]) -> T:
    result: T = _hash_runner(compute)
    return result


def hash_password(password: str) -> str:
    return str(_hashed(lambda: password_context.hash(password)))


_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
BCRYPT_MAX_BYTES = 72


def verify_and_update(password: str, stored_hash: str) -> tuple[bool, str | None]:
    """Check a password; returns (ok, new_hash) where new_hash is set when it must be upgraded.

    bcrypt only ever looked at the first 72 bytes, and bcrypt>=5 raises on longer input, so a
    legacy hash is checked against those bytes and the *full* password is re-hashed as argon2id.
    """
    try:
        if stored_hash.startswith(_BCRYPT_PREFIXES):
            secret = password.encode("utf-8")[:BCRYPT_MAX_BYTES]
            if not _hashed(lambda: password_context.verify(secret, stored_hash)):
                return False, None
            return True, hash_password(password)
        ok, new_hash = _hashed(lambda: password_context.verify_and_update(password, stored_hash))
        return bool(ok), new_hash
    except (ValueError, TypeError):
        return False, None


def burn_verification_time(password: str) -> None:
    """Spend the same work as a real verification (unknown user path)."""
    _hashed(lambda: password_context.verify(password, _DUMMY_HASH))
