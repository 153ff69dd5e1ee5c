"""Instructions per send, SQLite against PostgreSQL, counted by valgrind (``callgrind``).

``python -m bench.instructions [--sends N] [--backend sqlite|postgresql|both]``

On this VM CPU seconds move by 7% between consecutive runs of the same code and by 15% over an
hour (bench/profiles/scaleout.md): a change that saves 2-5% of a message's CPU cannot be seen
in ``cpu_per_message``. Instruction counts can: the same code, data and settings give the same
count within ~0.2%, whatever else the machine is doing. This counts the user-space
instructions of one send (``thread_sending._send``: its transaction, its commit and the domain
events' consumers before it) in a process of its own, after a warm-up, with callgrind's
instrumentation switched on only around the measured sends (start-up runs uninstrumented, so a
run takes ~15 s). What it does not count: the kernel (system calls, the TCP loopback to
PostgreSQL), time waiting, and the cold caches a thread wakes to after a round trip, which is
where most of a PostgreSQL round trip's CPU time goes: read it beside CPU seconds, not instead.

Needs ``valgrind`` (Debian's package) and, for PostgreSQL, the server the bench uses; the data
is the tests' small clinic in a fresh database, removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WARM_UP_SENDS = 30


def _measure_in_this_process(backend: str, sends: int, pg_url: str) -> None:
    """Run under callgrind: set up, warm up, count ``sends`` sends (instrumentation on only
    around them)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("CARE_ENV", "test")
    from tests import conftest  # the tests' throwaway data dir and key (set on import)

    admin = None
    if backend == "postgresql":
        import psycopg

        admin = psycopg.connect(pg_url, autocommit=True)
        name = f"care_instructions_{uuid.uuid4().hex[:8]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        url = pg_url.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/instructions.db"
    os.environ["DATABASE_URL"] = url
    from care_messaging.cli import migrate

    migrate(url)
    conftest.reset_caches()
    from sqlmodel import Session

    from care_messaging import db
    from care_messaging.state.thread_sending import _send
    from tests.factories import clinic
    from tests.unit.test_messages import _conversation

    engine = db.get_engine()
    with Session(engine, expire_on_commit=False) as session:
        people = clinic(session)
        session.commit()
        conversation_id = _conversation(session, people)
    sender = people["maria"]

    def send(count: int) -> None:
        for i in range(count):
            _send(sender, conversation_id, f"Is the appointment still at nine? ({i})",
                  uuid.uuid4().hex, [])

    send(WARM_UP_SENDS)
    control = ["callgrind_control", "--instr"]
    subprocess.run([*control, "on", str(os.getpid())], check=True, capture_output=True)
    send(sends)
    subprocess.run([*control, "off", str(os.getpid())], check=True, capture_output=True)
    engine.dispose()
    if admin is not None:
        admin.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        admin.close()


def count(backend: str, sends: int, pg_url: str) -> int:
    """Instructions per send on ``backend`` (a child process under callgrind)."""
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found: apt-get install valgrind")
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}/callgrind.out", sys.executable, "-m",
             "bench.instructions", "--child", backend, "--sends", str(sends),
             "--pg-url", pg_url],
            cwd=ROOT, capture_output=True, text=True, env={**os.environ,
                                                          "REFLEX_USE_SYSTEM_BUN": "1"})
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"the counted run failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return int(found.group(1).replace(",", "")) // sends


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sends", type=int, default=200)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--child", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _measure_in_this_process(args.child, args.sends, args.pg_url)
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    found = {backend: count(backend, args.sends, args.pg_url) for backend in backends}
    if len(found) == 2:
        found["postgresql_over_sqlite"] = round(found["postgresql"] / found["sqlite"], 3)
    print(json.dumps({"instructions_per_send": found, "sends": args.sends}))


if __name__ == "__main__":
    main()
