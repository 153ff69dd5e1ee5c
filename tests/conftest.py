"""Test environment: a throwaway data dir, key and SQLite database per test.

The environment is set before any app module is imported, because settings are read once.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="care-tests-"))
os.environ.update(
    {
        "CARE_ENV": "test",
        "CARE_DATA_DIR": str(_TMP),
        "DATABASE_URL": f"sqlite:///{_TMP / 'bootstrap.db'}",
        "CARE_ENCRYPTION_KEYS": "k1:" + base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "REFLEX_TELEMETRY_ENABLED": "false",
    }
)
os.environ.pop("REFLEX_REDIS_URL", None)
os.environ.pop("CARE_REDIS_URL", None)

import pytest  # noqa: E402
from sqlmodel import Session  # noqa: E402

from care_messaging import db  # noqa: E402
from care_messaging.cli import migrate  # noqa: E402
from care_messaging.settings import get_settings  # noqa: E402
from care_messaging.state import figure_cache  # noqa: E402

_TEMPLATE = _TMP / "template.db"

# Browser fixtures (app_server, browser, new_context) for tests/e2e and tests/security.
pytest_plugins = ["tests.browser"]


def reset_caches() -> None:
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    figure_cache.clear()


@pytest.fixture(scope="session")
def migrated_template() -> Path:
    """One migrated database file, copied for every test that needs a database."""
    url = f"sqlite:///{_TEMPLATE}"
    migrate(url)
    return _TEMPLATE


@pytest.fixture
def db_url(migrated_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    target = tmp_path / "care.db"
    shutil.copyfile(migrated_template, target)
    url = f"sqlite:///{target}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CARE_ATTACHMENT_DIR", str(tmp_path / "attachments"))
    reset_caches()
    yield url
    db.get_engine().dispose()
    reset_caches()


@pytest.fixture
def session(db_url: str):
    with Session(db.get_engine(), expire_on_commit=False) as s:
        yield s


BROWSER_FIXTURES = {"browser", "new_context", "app_server", "scaleout"}


def pytest_collection_modifyitems(config, items):
    """Mark every test that drives the running app as e2e, so the phases in scripts/test
    can keep Playwright's event loop away from the async handler tests."""
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
        if "scaleout" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.scaleout)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_TMP, ignore_errors=True)
