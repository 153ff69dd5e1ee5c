"""requirements.txt (what Reflex Cloud installs) is pyproject.toml's dependency list, exactly."""

from __future__ import annotations

import subprocess
import sys
import tomllib

from packaging.requirements import Requirement

from care_messaging import requirements_file
from care_messaging.settings import PROJECT_ROOT


def test_requirements_txt_matches_pyproject():
    assert requirements_file.REQUIREMENTS.read_text() == requirements_file.requirements_text(), (
        "requirements.txt differs from pyproject.toml: run "
        "`python -m care_messaging.cli requirements` and commit the file")


def test_every_runtime_dependency_is_listed_and_no_test_tool():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    lines = [line for line in requirements_file.REQUIREMENTS.read_text().splitlines()
             if line and not line.startswith("#")]
    names = {Requirement(line).name for line in lines}  # each line is valid for pip
    assert names == {Requirement(d).name for d in project["dependencies"]}
    assert not names & {Requirement(d).name for d in project["optional-dependencies"]["test"]}


def test_a_change_to_pyproject_is_noticed(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text((PROJECT_ROOT / "pyproject.toml").read_text().replace(
        'dependencies = [\n', 'dependencies = [\n    "humanize>=4,<5",\n', 1))
    changed = requirements_file.requirements_text(pyproject)
    assert "humanize>=4,<5\n" in changed
    stale = tmp_path / "requirements.txt"
    stale.write_text(requirements_file.requirements_text())
    assert requirements_file.in_step(stale)
    stale.write_text(changed)
    assert not requirements_file.in_step(stale)


def test_check_command_passes_on_the_committed_file():
    result = subprocess.run([sys.executable, "-m", "care_messaging.cli", "requirements",
                             "--check"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_cloud_config_keeps_the_database_and_secrets_out():
    """cloud.yml (flat keys; no YAML parser is installed): the local SQLite file is never
    uploaded, and the env file it names is git-ignored (only the example is committed)."""
    settings = dict(line.split(":", 1) for line in (PROJECT_ROOT / "cloud.yml").read_text()
                    .splitlines() if line and not line.startswith((" ", "#")))
    assert settings["include_db"].strip() == "false"
    envfile = settings["envfile"].strip()
    ignored = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert envfile in ignored
    example = (PROJECT_ROOT / f"{envfile}.example").read_text()
    assert "CARE_ENCRYPTION_KEYS=" not in example and "DATABASE_URL=" not in example
