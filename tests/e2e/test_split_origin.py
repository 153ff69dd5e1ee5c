"""Split deployment: the pages from ``reflex export`` served by Python's static file server on
one port, the backend (``reflex run --backend-only``) on another: two origins of one site.

A provider and a patient sign in (the forms post to the backend, which sends them back to the
pages' origin), exchange messages live over the backend's websocket (the session cookie
reaches it), upload and download an attachment from the backend's origin, and sign out. The
dashboard has no server-rendered first rows here (the static server knows no session): the
live list must fill it. One export build serves every test of the module.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext

from tests.browser import DEMO_PASSWORD
from tests.e2e.deploy_servers import SplitApp
from tests.e2e.two_origins import LEE, message_share_and_sign_out

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def split_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SplitApp]:
    app = SplitApp(tmp_path_factory.mktemp("split-origin"))
    yield app
    app.stop()


@pytest.fixture
def contexts(split_app: SplitApp) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for ctx in made:
        ctx.close()


def test_provider_and_patient_message_live_share_a_file_and_sign_out(browser, split_app,
                                                                      contexts, tmp_path):
    message_share_and_sign_out(browser, split_app, contexts, tmp_path, "split-origin-dashboard")


def test_static_dashboard_has_no_first_rows(split_app):
    """What the journey above proves works without them: the static server's page carries
    only the empty placeholder."""
    with urllib.request.urlopen(f"{split_app.front_url}/dashboard/", timeout=10) as response:
        html = response.read().decode()
    assert 'id="first-rows"' in html
    assert 'data-testid="conversation-row"' not in html


def _post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_backend_trusts_only_the_pages_origin(split_app):
    """CORS and the sign-in origin check are pinned to the pages' origin: another origin's
    form gets the error page (no session), its upload preflight no CORS grant, and an upload
    without the session cookie is refused before its body is read."""
    form = f"email={LEE}&password={DEMO_PASSWORD}".replace("@", "%40").encode()
    form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
    status, headers = _post(f"{split_app.back_url}/api/auth/login", form,
                            {**form_headers, "Origin": split_app.front_url})
    assert status == 303 and headers["location"] == f"{split_app.front_url}/dashboard"
    assert "care_session=" in headers.get("set-cookie", "")
    status, headers = _post(f"{split_app.back_url}/api/auth/login", form,
                            {**form_headers, "Origin": "http://localhost:1"})
    assert status == 303 and "error=invalid" in headers["location"]
    assert "care_session=" not in headers.get("set-cookie", "")

    def preflight(origin: str) -> dict[str, str]:
        request = urllib.request.Request(
            f"{split_app.back_url}/_upload", method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "reflex-client-token"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return dict(response.headers)
        except urllib.error.HTTPError as error:
            return dict(error.headers)

    assert preflight(split_app.front_url).get("access-control-allow-origin") == \
        split_app.front_url
    assert "access-control-allow-origin" not in {
        k.lower() for k in preflight("http://localhost:1")}
    status, _ = _post(f"{split_app.back_url}/_upload", b"x" * 10,
                      {"Origin": split_app.front_url, "Content-Type": "text/plain"})
    assert status == 403
