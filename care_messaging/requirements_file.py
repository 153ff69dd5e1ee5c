"""``requirements.txt`` for hosts that install from it (Reflex Cloud's ``reflex deploy``),
generated from ``pyproject.toml``, the one place dependencies are declared.

It lists the runtime dependencies with the same version ranges and markers (pip reads PEP 508
lines as they are), not the test extras; the app's own package needs no installing there (the
host runs it from the project directory). ``python -m care_messaging.cli requirements`` writes
it; ``--check`` fails when the file is out of step (``tests/unit/test_requirements_file.py``
does the same in the test command).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from care_messaging.settings import PROJECT_ROOT

PYPROJECT = PROJECT_ROOT / "pyproject.toml"
REQUIREMENTS = PROJECT_ROOT / "requirements.txt"
HEADER = (
    "# Generated from pyproject.toml by `python -m care_messaging.cli requirements`: do not edit.\n"
    "# (Reflex Cloud installs from this file; tests/unit/test_requirements_file.py keeps it in step.)\n"
)


def requirements_text(pyproject: Path = PYPROJECT) -> str:
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    return HEADER + "".join(f"{line.strip()}\n" for line in dependencies)


def write(path: Path = REQUIREMENTS) -> None:
    path.write_text(requirements_text(), encoding="utf-8")


def in_step(path: Path = REQUIREMENTS) -> bool:
    return path.exists() and path.read_text(encoding="utf-8") == requirements_text()
