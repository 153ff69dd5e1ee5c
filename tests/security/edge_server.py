"""A production backend (Uvicorn, h11, wsproto; no frontend build) for protocol-level attacks.

It starts in seconds, on its own SQLite file, with short sign-in windows so lock-outs can be
watched ending, and small attachments so size caps are cheap to cross. Tests reach its database
through the real services (``server_db``), with the server's own key and attachment folder.
Connections may come from any 127.0.0.x address (``from_ip``): each test attacks from its own
source address, so the per-address sign-in limit of one test never touches another.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlmodel import Session

from care_messaging import db
from care_messaging.settings import get_settings
from tests.browser import ROOT, free_port, server_env, wait_for

LOCKOUT_SECONDS = 6
MAX_FAILURES = 5
IP_LIMIT = 12
MAX_ATTACHMENT = 256 * 1024


class EdgeServer:
    def __init__(self, data_dir: Path, *, extra_env: dict[str, str] | None = None,
                 loop: str = "auto", app: str = "care_messaging.care_messaging:app") -> None:
        self.port = free_port()
        self.loop = loop
        self.app = app
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"http://localhost:{self.port}"
        self.origin = self.base_url
        self.env = server_env(data_dir, self.port, {
            "CARE_LOGIN_LOCKOUT_SECONDS": str(LOCKOUT_SECONDS),
            "CARE_LOGIN_MAX_FAILURES": str(MAX_FAILURES),
            "CARE_LOGIN_IP_LIMIT": f"{IP_LIMIT} per 10 minutes",
            "CARE_MAX_ATTACHMENT_BYTES": str(MAX_ATTACHMENT),
            "CARE_ATTACHMENT_DIR": str(data_dir / "attachments"),
            "CARE_EXTRA_ORIGINS": self.base_url,
            "REFLEX_ENV_MODE": "prod",
            "__REFLEX_SKIP_COMPILE": "true",
            "REFLEX_BACKEND_ONLY": "true",
            "REFLEX_USE_GRANIAN": "false",
            **(extra_env or {}),
        })
        self.log = data_dir / "server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> EdgeServer:
        subprocess.run([sys.executable, "-m", "care_messaging.cli", "migrate"], cwd=ROOT,
                       env=self.env, check=True, capture_output=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "--host", "127.0.0.1", "--port",
             str(self.port), "--http", "h11", "--ws", "wsproto", "--log-level", "warning",
             "--loop", self.loop,
             self.app],
            cwd=ROOT, env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            wait_for(f"{self.base_url}/api/health", timeout=120, process=self.process)
        except TimeoutError:
            self.stop()
            raise RuntimeError(self.log.read_text()[-3000:]) from None
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)

    def client(self, ip: str = "127.0.0.1", **kwargs) -> httpx.Client:
        """An HTTP client whose connections come from ``ip`` (any 127.0.0.x works)."""
        return httpx.Client(base_url=self.base_url, timeout=30, follow_redirects=False,
                            transport=httpx.HTTPTransport(local_address=ip), **kwargs)

    def sign_in(self, email: str, password: str, *, ip: str = "127.0.0.1",
                code: str = "") -> httpx.Response:
        with self.client(ip) as c:
            return c.post("/api/auth/login", headers={"Origin": self.origin},
                          data={"email": email, "password": password, "code": code})

    def session_cookie(self, email: str, password: str, *, ip: str = "127.0.0.1",
                       code: str = "") -> str:
        response = self.sign_in(email, password, ip=ip, code=code)
        token = response.cookies.get("care_session")
        assert token, (response.status_code, response.headers.get("location"))
        return token

    @contextlib.contextmanager
    def db(self) -> Iterator[Session]:
        """A session on the server's database, with its key and attachment folder."""
        keys = ("CARE_ENCRYPTION_KEYS", "CARE_ATTACHMENT_DIR", "DATABASE_URL",
                "CARE_MAX_ATTACHMENT_BYTES")
        saved = {k: os.environ.get(k) for k in keys}
        os.environ.update({k: self.env[k] for k in keys})
        get_settings.cache_clear()
        db.get_engine.cache_clear()
        try:
            with Session(db.get_engine(), expire_on_commit=False) as session:
                yield session
        finally:
            db.get_engine().dispose()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            get_settings.cache_clear()
            db.get_engine.cache_clear()

    def pids(self) -> list[int]:
        return [self.process.pid] if self.process else []


def wait_until(predicate, timeout: float = 10.0, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
