"""The app run the other ways Reflex users run it, each in its own copy of the project.

A build for other ports rewrites ``.web``, which the shared test server (``tests/browser.py``)
serves from; so each of these copies the source tree (no ``.web``, ``data`` or ``.venv``: the
copy links to this virtualenv) into a temporary directory and builds and runs there, and the
tests can run in the ordinary browser phase beside the shared server.

- ``SplitApp``: ``reflex export --frontend-only`` served by Python's static file server on one
  port, ``reflex run --env prod --backend-only`` on another (README: Split deployment).
- ``DevApp``: ``./scripts/dev`` (``reflex run`` in development: two ports, hot reload).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.browser import ROOT, free_port, server_env, wait_for

# Skipped at the top of the project only: ``care_messaging/data`` (the red-flag list) is code.
_TOP_SKIP = {"data"}
_SKIP = {".web", ".venv", "test-artifacts", ".git", ".pytest_cache", ".ruff_cache",
         "__pycache__", ".states", "bench"}


def copy_project(dest: Path) -> Path:
    """The source tree in ``dest`` with ``.venv`` linked to ours; returns ``dest``."""
    shutil.copytree(ROOT, dest, ignore=lambda folder, names: [
        n for n in names if n in _SKIP or (n in _TOP_SKIP and Path(folder) == ROOT)])
    (dest / ".venv").symlink_to((ROOT / ".venv").resolve())
    # Never newer than the install stamp: scripts/_setup.sh would reinstall the shared
    # virtualenv's editable package from the copy.
    os.utime(dest / "pyproject.toml", (0, 0))
    return dest


def _popen(args: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=cwd, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen | None) -> None:
    """Stop a server we started (its whole process group: Reflex starts children)."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else ""


def _two_ports(workdir: Path) -> tuple[Path, Path, int, int]:
    """A copy of the project, its data folder, and free ports for the pages and the backend."""
    project = copy_project(workdir / "project")
    data_dir = workdir / "data"
    data_dir.mkdir()
    return project, data_dir, free_port(), free_port()


class SplitApp:
    """The exported frontend on ``front_url`` (a plain static server), the backend on
    ``back_url``: two origins of one site (localhost)."""

    def __init__(self, workdir: Path):
        self.project, self.data_dir, front_port, back_port = _two_ports(workdir)
        self.front_url = f"http://localhost:{front_port}"
        self.back_url = f"http://localhost:{back_port}"
        python = str(Path(sys.executable))
        self.env = server_env(self.data_dir, front_port, {"CARE_BACKEND_ORIGIN": self.back_url})
        self.backend: subprocess.Popen | None = None
        self.frontend: subprocess.Popen | None = None
        try:
            # The README's steps: build the pages for these origins, then serve each part.
            self._run([str(self.project / "scripts" / "export-frontend")], "export.log", 600)
            self.backend = _popen([str(self.project / "scripts" / "start-backend")],
                                  self.project, self.env, self.data_dir / "backend.log")
            self.frontend = _popen(
                [python, "-m", "http.server", str(front_port), "--bind", "127.0.0.1",
                 "--directory", str(self.project / ".web" / "build" / "client")],
                self.project, self.env, self.data_dir / "frontend.log")
            wait_for(f"{self.back_url}/api/health", timeout=300, process=self.backend)
            wait_for(f"{self.front_url}/login/", timeout=60, process=self.frontend)
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"split deployment did not start ({exc}); backend log:\n"
                               + _tail(self.data_dir / "backend.log")) from None

    def _run(self, args: list[str], log_name: str, timeout: float) -> None:
        log = self.data_dir / log_name
        result = subprocess.run(args, cwd=self.project, env=self.env, stdout=log.open("w"),
                                stderr=subprocess.STDOUT, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed:\n{_tail(log)}")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "care.db"

    def stop(self) -> None:
        stop(self.frontend)
        stop(self.backend)


class DevApp:
    """``./scripts/dev``: the development server's pages on ``front_url``, its backend on
    ``back_url``."""

    def __init__(self, workdir: Path):
        self.project, self.data_dir, front_port, back_port = _two_ports(workdir)
        self.front_url = f"http://localhost:{front_port}"
        self.back_url = f"http://localhost:{back_port}"
        env = server_env(self.data_dir, front_port, {"CARE_BACKEND_PORT": str(back_port)})
        env["CARE_ENV"] = "dev"
        # scripts/dev derives both origins from the two ports, as a developer runs it.
        env.pop("CARE_PUBLIC_ORIGIN", None)
        self.env = env
        log = self.data_dir / "dev.log"
        self.process = _popen([str(self.project / "scripts" / "dev")], self.project, env, log)
        try:
            wait_for(f"{self.back_url}/api/health", timeout=480, process=self.process)
            wait_for(f"{self.front_url}/login", timeout=240, process=self.process)
        except Exception:
            self.stop()
            raise RuntimeError("reflex run (development) did not start; log:\n"
                               + _tail(log)) from None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "care.db"

    def stop(self) -> None:
        stop(self.process)
