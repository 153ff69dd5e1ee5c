"""Browser tests: one production build of the app per test session, on a fresh seeded database.

The server is started by ``./scripts/start`` (the README's start command) in a subprocess with
its own data dir, so tests see exactly what a user sees. Chromium is Debian's (``CHROMIUM_PATH`` to override).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.smtp_capture import SmtpCapture

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}
DEMO_PASSWORD = "CareDemo!2026"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200; give up early if ``process`` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise TimeoutError(f"the server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def server_env(data_dir: Path, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("CARE_", "DATABASE_URL", "REFLEX_REDIS"))
    }
    env.update(
        {
            "CARE_ENV": "test",
            "CARE_DATA_DIR": str(data_dir),
            "CARE_PORT": str(port),
            "DATABASE_URL": f"sqlite:///{data_dir / 'care.db'}",
            "CARE_ENCRYPTION_KEYS": "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "REFLEX_USE_SYSTEM_BUN": "1",
            "REFLEX_TELEMETRY_ENABLED": "false",
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        }
    )
    env.update(extra or {})
    return env


class AppServer:
    """A running app: its URL, environment (for direct DB checks) and process."""

    def __init__(self, base_url: str, env: dict[str, str], process: subprocess.Popen, log: Path):
        self.base_url = base_url
        self.env = env
        self.process = process
        self.log = log

    def stop(self) -> None:
        # The whole process group, even when its leader has already exited: a server worker
        # whose master is gone must not outlive the test (seen after the scale-out phase).
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> AppServer:
    """Start the app exactly as the README says: ``./scripts/start`` (migrate, seed, serve)."""
    port = free_port()
    env = server_env(data_dir, port, extra_env)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / "server.log"
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "start")],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    server = AppServer(f"http://localhost:{port}", env, process, log)
    try:
        wait_for(f"{server.base_url}/api/health", timeout=480, process=process)
        wait_for(f"{server.base_url}/login", timeout=120, process=process)
    except TimeoutError:
        server.stop()
        raise RuntimeError(f"app did not start; log:\n{log.read_text()[-4000:]}") from None
    return server


# The shared app emails through a real SMTP server on localhost (tests/smtp_capture.py) after
# a short delay, so the notification tests need no second server (a build takes minutes).
NOTIFY_DELAY_SECONDS = 3


@pytest.fixture(scope="session")
def mail_server() -> Iterator[SmtpCapture]:
    with SmtpCapture() as box:
        yield box


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory,
               mail_server: SmtpCapture) -> Iterator[AppServer]:
    server = start_server(tmp_path_factory.mktemp("e2e-app"), extra_env={
        "CARE_SMTP_URL": mail_server.url,
        "CARE_NOTIFY_DELAY_SECONDS": str(NOTIFY_DELAY_SECONDS),
        "CARE_JOB_POLL_SECONDS": "0.5",
    })
    yield server
    server.stop()


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("Chromium not found: run ./scripts/test (it installs it) or set CHROMIUM_PATH")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_context(browser: Browser, app_server: AppServer):
    contexts: list[BrowserContext] = []

    def make(**kwargs) -> BrowserContext:
        ctx = browser.new_context(base_url=app_server.base_url, **kwargs)
        ctx.set_default_timeout(15000)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


def sign_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


LONG_THREAD_MESSAGES = 75  # two older pages and a half behind the first screen of 30


@pytest.fixture(scope="session")
def long_thread(app_server: AppServer) -> tuple[int, int]:
    """A conversation between Dr. Lee and Maria Garcia with a long history, stored through the
    services (encrypted with the running app's key, as its own sends are): (id, messages)."""
    from care_messaging.services.conversations import create_conversation
    from care_messaging.services.message_sending import send_message
    from tests.e2e.app_data import actor, app_session, patient_id

    with app_session(app_server) as s:
        lee, maria = actor(s, "jordan.lee@demo.care"), actor(s, "maria.garcia@demo.care")
        conversation, _ = create_conversation(
            s, actor=lee, patient_id=patient_id(s, "maria.garcia@demo.care"), reason="Test",
            topic="Blood pressure diary", body="Please send your readings here each morning.")
        s.commit()
        for n in range(2, LONG_THREAD_MESSAGES + 1):
            sender = maria if n % 2 == 0 else lee
            send_message(s, actor=sender, conversation_id=conversation.id,
                         body=f"Reading {n}: {118 + n % 9}/{76 + n % 5}",
                         client_msg_id=f"long-thread-{n}")
            s.commit()
        return conversation.id, LONG_THREAD_MESSAGES
