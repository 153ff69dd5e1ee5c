"""Operator commands: ``python -m care_messaging.cli <command>``.

- ``migrate``      apply Alembic migrations to DATABASE_URL
- ``seed``         create the demo clinic (idempotent) and print the demo logins
- ``make-key``     print a new encryption key entry
- ``ensure-dev-key`` write data/encryption.keys for local development if missing
- ``rotate-keys``  re-encrypt all data under the active (first) key; rebuild the search index
- ``fhir-export``  write all of a patient's conversations as one FHIR R4 Bundle:
                   ``fhir-export --as PROVIDER_EMAIL --patient PATIENT_ID [--out FILE]``
- ``fhir-import``  import a FHIR R4 Bundle file: ``fhir-import --as PROVIDER_EMAIL FILE``
                   (both act as that provider: care-team access and the audit trail apply)
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


def fhir(args: argparse.Namespace) -> int:
    """Export or import as a named provider, so that access checks and audit rows are the
    same as in the app. Errors print the service's message (it leaks nothing) and exit 2."""
    import json

    from sqlmodel import func, select

    from care_messaging.db import session_scope
    from care_messaging.models import Patient, User
    from care_messaging.services import fhir_export, fhir_import
    from care_messaging.services.actors import actor_for_user
    from care_messaging.services.errors import ServiceError

    if not args.as_email:
        print("--as PROVIDER_EMAIL is required", file=sys.stderr)
        return 2
    try:
        # A refusal leaves the unit of work by its error, so the unit rolls back (its audit
        # row is written apart by the service).
        with session_scope() as session:
            user = session.exec(select(User).where(
                func.lower(User.email) == args.as_email.strip().lower())).first()
            if user is None or not user.is_active:
                print(f"No active user {args.as_email}", file=sys.stderr)
                return 2
            actor = actor_for_user(session, user, client_ip="cli")
            if args.command == "fhir-export":
                patient_id = session.exec(select(Patient.id).where(
                    Patient.mrn == (args.patient or "").strip())).first()
                bundle = fhir_export.export_patient(session, actor=actor,
                                                    patient_id=patient_id or -1)
            elif not args.file:
                print("fhir-import needs the Bundle file", file=sys.stderr)
                return 2
            else:
                report = fhir_import.import_bundle(session, actor=actor,
                                                   raw=Path(args.file).read_bytes())
    except ServiceError as error:
        print(str(error), file=sys.stderr)
        return 2
    if args.command == "fhir-export":
        text = json.dumps(bundle, ensure_ascii=False, indent=1)
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
            Path(args.out).chmod(0o600)  # PHI: readable by the operator only
        else:
            print(text)
        return 0
    print(f"Imported {len(report.conversation_ids)} conversations, {report.messages} messages, "
          f"{report.attachments} attachments.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="care_messaging.cli")
    parser.add_argument("command", choices=["migrate", "seed", "make-key", "ensure-dev-key", "rotate-keys",
                                            "jobs", "fhir-export", "fhir-import",
                                            "requirements"])
    parser.add_argument("file", nargs="?", help="fhir-import: the Bundle (JSON) to import")
    parser.add_argument("--as", dest="as_email", help="fhir-*: the provider acting")
    parser.add_argument("--patient", help="fhir-export: the patient ID (e.g. P-100200)")
    parser.add_argument("--out", help="fhir-export: write the Bundle here (default: stdout)")
    parser.add_argument("--check", action="store_true",
                        help="requirements: fail if requirements.txt is out of step")
    # Intermixed: the Bundle file may come after the options (`fhir-import --as X file`).
    args = parser.parse_intermixed_args(argv)
    if args.command in ("fhir-export", "fhir-import"):
        return fhir(args)
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
              f"{report.totp_secrets} two-step secrets, {report.internal_notes} internal notes; "
              f"{report.indexed_messages} messages re-indexed.")
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
