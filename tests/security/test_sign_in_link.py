"""The sign-in link in a notification email opens only a conversation on the user's own page:
never another site, another role's page or anything but ``?c=<id>``."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from care_messaging.services.auth import safe_next
from care_messaging.web.auth_routes import routes as auth_routes
from tests.factories import PASSWORD, clinic

ORIGIN = {"Origin": "http://localhost:3000"}


@pytest.mark.parametrize("target", [
    "https://evil.example/portal?c=1", "//evil.example/portal?c=1", "/\\evil.example",
    "/portal?c=1&x=javascript:alert(1)", "/portal/../admin", "/admin", "/dashboard?c=1",
    "/portal?c=-1", "javascript:alert(1)", "",
])
def test_unsafe_targets_are_refused_for_a_patient(target):
    assert safe_next(target, "patient") is None


def test_own_page_targets_are_kept():
    assert safe_next("/portal?c=12", "patient") == "/portal?c=12"
    assert safe_next("/dashboard?c=12", "provider") == "/dashboard?c=12"
    assert safe_next("/portal", "patient") == "/portal"


def test_sign_in_follows_only_a_safe_link(db_url, session):
    people = clinic(session)
    client = TestClient(Starlette(routes=auth_routes), base_url="http://localhost:3000")

    def land(next_value: str) -> str:
        client.cookies.clear()
        response = client.post("/api/auth/login", headers=ORIGIN, follow_redirects=False,
                               data={"email": people["maria"].email, "password": PASSWORD,
                                     "next": next_value})
        return response.headers["location"]

    assert land("/portal?c=7") == "/portal?c=7"
    assert land("https://evil.example/") == "/portal"
    assert land("/dashboard?c=7") == "/portal"  # not the patient's page
