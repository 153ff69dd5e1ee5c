"""HTTP routes under test without a browser: a Starlette TestClient over the app's own route
lists, signed in through the real login route (the session cookie it sets)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.testclient import TestClient

from care_messaging.services import auth
from tests.factories import PASSWORD

ORIGIN = "http://localhost:3000"


def route_client(*route_lists: list[BaseRoute]) -> TestClient:
    return TestClient(Starlette(routes=[r for routes in route_lists for r in routes]),
                      base_url=ORIGIN)


def sign_in(client: TestClient, email: str) -> TestClient:
    """Sign ``client`` in as ``email`` (any earlier cookie dropped) with the real login POST."""
    client.cookies.clear()
    response = client.post("/api/auth/login", data={"email": email, "password": PASSWORD},
                           headers={"Origin": ORIGIN}, follow_redirects=False)
    assert response.status_code == 303 and auth.SESSION_COOKIE in response.cookies
    return client
