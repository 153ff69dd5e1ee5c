"""Operator commands: ``python -m care_messaging.cli <command>``.

- ``migrate``      apply Alembic migrations to DATABASE_URL
- ``seed``         create the demo clinic (idempotent) and print the demo logins
- ``make-key``     print a new encryption key entry
- ``ensure-dev-key`` write data/encryption.keys for local development if missing
- ``rotate-keys``  re-encrypt all data under the active (first) key; rebuild the search index
- ``requirements`` write requirements.txt from pyproject.toml (``--check``: fail if it differs)
- ``jobs``         run a background-job worker in the foreground (the app runs one itself
                   unless CARE_JOBS_IN_APP=0): the embedded runner on SQLite, a procrastinate
                   worker on PostgreSQL
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from care_messaging.settings import get_settings


def migrate(url: str | None = None) -> None:
    from alembic import command
    from alembic.config import Config

    from care_messaging.settings import PROJECT_ROOT

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    if url:
        cfg.attributes["url"] = url
    command.upgrade(cfg, "head")
    target = url or get_settings().database_url
    if target.startswith("postgresql"):
        from care_messaging.jobs import pg

        pg.install_schema(target)  # procrastinate's tables (the scale-out job queue)


def run_jobs() -> None:
    """A job worker in the foreground until SIGTERM/SIGINT (or SIGKILL: at-least-once)."""
    import asyncio
    import logging
    import signal
    import threading

    from care_messaging.db import get_engine

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = get_settings()
    if settings.database_url.startswith("postgresql"):
        from care_messaging.jobs import pg

        asyncio.run(pg.run_worker(settings.database_url))
        return
    from care_messaging.jobs.embedded import Runner

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    Runner(get_engine(), lease_seconds=settings.job_lease_seconds,
           poll_seconds=settings.job_poll_seconds).run_forever(stop)


def ensure_dev_key(data_dir: Path) -> Path:
    from care_messaging.crypto import new_key_text

    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "encryption.keys"
    if not key_file.exists():
        key_file.write_text(new_key_text("k1") + "\n")
        key_file.chmod(0o600)
    return key_file


def print_logins() -> None:
    from care_messaging.services.seed import DEMO_PASSWORD, demo_logins

    print(f"Demo logins (password for all: {DEMO_PASSWORD})")
    for login in demo_logins():
        print(f"  {login.role:9} {login.email:28} {login.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="care_messaging.cli")
    parser.add_argument("command", choices=["migrate", "seed", "make-key", "ensure-dev-key", "rotate-keys",
                                            "jobs", "requirements"])
    parser.add_argument("--check", action="store_true",
                        help="requirements: fail if requirements.txt is out of step")
    args = parser.parse_args(argv)
    if args.command == "requirements":
        from care_messaging import requirements_file

        if args.check:
            if requirements_file.in_step():
                return 0
            print("requirements.txt differs from pyproject.toml: run "
                  "`python -m care_messaging.cli requirements`", file=sys.stderr)
            return 1
        requirements_file.write()
        print(f"Wrote {requirements_file.REQUIREMENTS}")
        return 0
    if args.command == "ensure-dev-key":
        import os

        from care_messaging.settings import DEFAULT_DATA_DIR

        print(ensure_dev_key(Path(os.environ.get("CARE_DATA_DIR", str(DEFAULT_DATA_DIR)))))
        return 0
    if args.command == "make-key":
        import secrets

        from care_messaging.crypto import new_key_text

        print(new_key_text(f"k{secrets.token_hex(3)}"))
        return 0
    if args.command == "migrate":
        migrate()
        return 0
    if args.command == "jobs":
        run_jobs()
        return 0
    if args.command == "rotate-keys":
        from care_messaging.db import session_scope
        from care_messaging.services.keys import rotate_keys

        with session_scope() as session:
            report = rotate_keys(session)
        print(f"Re-encrypted {report.messages} messages, {report.attachments} attachments, "
              f"{report.totp_secrets} two-step secrets; {report.indexed_messages} messages re-indexed.")
        return 0
    if args.command == "seed":
        from care_messaging.db import session_scope
        from care_messaging.services.seed import seed_demo

        with session_scope() as session:
            created = seed_demo(session)
        print("Demo data created." if created else "Demo data already present; nothing added.")
        print_logins()
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
