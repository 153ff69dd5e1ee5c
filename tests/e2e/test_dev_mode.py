"""``./scripts/dev``: ``reflex run`` in development mode (the pages on the development server's
port with hot reload, the backend on its own port): a provider and a patient sign in, message
each other live, share an attachment and sign out (tests/e2e/two_origins.py). Runs in its own
copy of the project (tests/e2e/deploy_servers.py), one server per run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext

from tests.e2e.deploy_servers import DevApp
from tests.e2e.two_origins import message_share_and_sign_out

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dev_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevApp]:
    app = DevApp(tmp_path_factory.mktemp("dev-mode"))
    yield app
    app.stop()


@pytest.fixture
def contexts(dev_app: DevApp) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for ctx in made:
        ctx.close()


def test_development_server_end_to_end(browser, dev_app, contexts, tmp_path):
    # The development server compiles each page on its first request: slower than a build.
    message_share_and_sign_out(browser, dev_app, contexts, tmp_path, "dev-mode-dashboard",
                               timeout_ms=60000)
