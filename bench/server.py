"""Start and stop the app for the bench, as tests/e2e/conftest.py does.

``reflex run --env prod --single-port`` (frontend built: needed for browser scenarios; the build
takes minutes on a busy 2-core machine) or, for protocol-level clients, the same production
backend Reflex runs (Granian on the app factory, ``REFLEX_ENV_MODE=prod``,
``REFLEX_SKIP_COMPILE``), which starts in seconds. (``reflex run --backend-only`` refuses to
start because rxconfig pins ``frontend_port`` for single-port serving.) The process runs in its
own session; ``stop`` kills that process group only.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def empty_redis(url: str) -> None:
    """Empty the bench's Redis database before a server starts on it, as a SQLite server
    starts with empty memory. What earlier servers left there (tab states, the live registry,
    the index of signed-in sessions) would otherwise be worked on by the new server: its sweep
    every 30 s empties the tabs of sessions that have since ended (loads every state of the
    tab, resets it, writes it back), seconds of CPU landing in whichever measurement was
    running (seen: 2.5 s of CPU in one sweep, 30 s into a server, after a day of bench runs
    had left 16,000 keys in the database)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def vacuum_postgres(url: str) -> None:
    """``VACUUM (ANALYZE)`` the bench's PostgreSQL database before a server starts on it. The
    data set is reused from run to run, and every send rewrites its conversation's row: where
    the server runs without autovacuum (this machine's does: ``autovacuum = off``), the dead
    rows of earlier runs pile up (seen: 46,600 dead beside 11,000 live conversation rows after
    a morning of runs) and each run would measure the ones before it. Seconds on the cached
    data set (the messages' pages are all-visible and skipped)."""
    import psycopg

    from care_messaging.db import libpq_conninfo

    with psycopg.connect(libpq_conninfo(url), autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE)")


class Server:
    def __init__(self, *, database_url: str, key_text: str, data_dir: Path,
                 frontend: bool = False, redis_url: str | None = None,
                 workers: int = 1, extra_env: dict[str, str] | None = None) -> None:
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://localhost:{self.port}"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CARE_", "DATABASE_URL", "REFLEX_REDIS"))}
        env.update({
            "CARE_ENV": "test",
            "CARE_DATA_DIR": str(data_dir),
            "CARE_PORT": str(self.port),
            "DATABASE_URL": database_url,
            "CARE_ENCRYPTION_KEYS": key_text,
            "REFLEX_USE_SYSTEM_BUN": "1",
            "REFLEX_TELEMETRY_ENABLED": "false",
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        })
        self.redis_url = redis_url
        if redis_url:
            env["REFLEX_REDIS_URL"] = redis_url
        self.server_kind = os.environ.get("BENCH_ASGI_SERVER", "uvicorn")
        env["REFLEX_USE_GRANIAN"] = "true" if self.server_kind == "granian" else "false"
        env.update(extra_env or {})
        self.env = env
        self.frontend = frontend
        self.log = data_dir / f"server-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 480) -> Server:
        if self.redis_url:
            empty_redis(self.redis_url)
        if self.env["DATABASE_URL"].startswith("postgresql"):
            vacuum_postgres(self.env["DATABASE_URL"])
        if self.frontend:
            cmd = [sys.executable, "-m", "reflex", "run", "--env", "prod", "--single-port",
                   "--loglevel", "warning"]
        else:
            # Reflex reads its internal variables with a "__" prefix: without it every worker
            # compiled the frontend into .web at start, concurrently (two workers once left a
            # truncated reflex.lock/bun.lock behind, and the next frontend build refused it).
            self.env.update({"REFLEX_ENV_MODE": "prod", "__REFLEX_SKIP_COMPILE": "true",
                             "REFLEX_BACKEND_ONLY": "true"})
            if self.server_kind == "granian":  # for comparison: BENCH_ASGI_SERVER=granian
                cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
                       "--host", "127.0.0.1", "--port", str(self.port), "--workers",
                       str(self.workers), "--log-level", "warning",
                       "care_messaging.care_messaging:app"]
            else:  # what production runs (Reflex starts gunicorn + Uvicorn/h11 + wsproto)
                cmd = [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1",
                       "--port", str(self.port), "--workers", str(self.workers),
                       "--http", "h11", "--ws", "wsproto", "--log-level", "warning",
                       "care_messaging.care_messaging:app"]
        self.process = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self.log.open("w"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait(f"{self.base_url}/api/health", timeout, self.process)
            if self.frontend:
                _wait(f"{self.base_url}/login", 120, self.process)
        except (TimeoutError, RuntimeError):
            tail = self.log.read_text()[-3000:]
            self.stop()
            raise RuntimeError(f"app did not start; log tail:\n{tail}") from None
        return self

    def pids(self) -> list[int]:
        """The server process and all its descendants (via /proc)."""
        if self.process is None:
            return []
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        out, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server's process tree so far (from /proc)."""
        return sum(self.cpu_seconds_by_process().values())

    def cpu_seconds_by_process(self) -> dict[int, float]:
        """User + system CPU time so far of each process of the server's tree (from /proc):
        with several workers, how evenly the load falls on them."""
        ticks = os.sysconf("SC_CLK_TCK")
        found: dict[int, float] = {}
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return found

    def rss_kb(self) -> int:
        """Resident memory of the server's process tree, in KiB (VmRSS from /proc)."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
