"""One password hash at a time on a machine: every worker's hash thread takes the same file
lock (web/offloop.py), so N workers never run N argon2 hashes at once and leave the event
loops without a core. Shown with a real second process holding the lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from care_messaging.services import passwords
from care_messaging.settings import get_settings
from care_messaging.web import offloop

HOLD_SECONDS = 0.8


def _hold_the_lock_in_another_process() -> subprocess.Popen[str]:
    """Another worker of the machine in the middle of a hash: it holds the slot a while."""
    script = textwrap.dedent(f"""
        import fcntl, os, sys, time
        fd = os.open({str(get_settings().hash_lock_path)!r}, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("held", flush=True)
        time.sleep({HOLD_SECONDS})
        fcntl.flock(fd, fcntl.LOCK_UN)
        print("released", flush=True)
        time.sleep(5)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_a_hash_waits_for_the_slot_another_worker_holds():
    child = _hold_the_lock_in_another_process()
    try:
        start = time.monotonic()
        ran_at = offloop.run_hash(time.monotonic)
        assert ran_at - start >= HOLD_SECONDS * 0.75  # it ran only once the other let go
        assert child.stdout is not None and child.stdout.readline().strip() == "released"
    finally:
        child.kill()
        child.wait()


def test_a_free_slot_costs_nothing_and_the_sign_in_hash_uses_it():
    start = time.monotonic()
    offloop.run_hash(time.monotonic)
    assert time.monotonic() - start < 0.2
    # The sign-in path's hashes go through the slot (the web layer installs it at import).
    child = _hold_the_lock_in_another_process()
    try:
        start = time.monotonic()
        assert passwords.verify_and_update("wrong", passwords.hash_password("right"))[0] is False
        assert time.monotonic() - start >= HOLD_SECONDS * 0.75
    finally:
        child.kill()
        child.wait()
