"""Split deployment settings: where forms, links and redirects point; cross-site refused."""

from __future__ import annotations

import pytest

from care_messaging.settings import SettingsError, get_settings, load_settings
from care_messaging.sites import registrable_domain
from care_messaging.web import origins


@pytest.fixture
def env(monkeypatch):
    for name in ("CARE_PUBLIC_ORIGIN", "CARE_BACKEND_ORIGIN", "CARE_BACKEND_PORT", "CARE_PORT"):
        monkeypatch.delenv(name, raising=False)
    yield monkeypatch
    get_settings.cache_clear()


def test_one_port_keeps_every_address_relative(env):
    env.setenv("CARE_PORT", "4100")
    get_settings.cache_clear()
    s = get_settings()
    assert (s.public_origin, s.backend_url, s.backend_port) == (
        "http://localhost:4100", "http://localhost:4100", 4100)
    assert not s.split_origin
    assert origins.backend_url("/api/auth/login") == "/api/auth/login"
    assert origins.frontend_url("/dashboard") == "/dashboard"
    assert origins.attachment_href(7, download=True) == "/api/attachments/7?download=1"
    assert origins.page_referrer_policy() == "same-origin"


def test_split_points_forms_and_files_at_the_backend_and_redirects_at_the_pages(env):
    env.setenv("CARE_PUBLIC_ORIGIN", "https://app.clinic.example/")
    env.setenv("CARE_BACKEND_ORIGIN", "https://api.clinic.example")
    get_settings.cache_clear()
    s = get_settings()
    assert s.split_origin and s.cookie_secure
    assert s.allowed_origins == ["https://app.clinic.example"]  # CORS and the login check
    assert origins.backend_url("/api/auth/logout") == "https://api.clinic.example/api/auth/logout"
    assert origins.attachment_href(7) == "https://api.clinic.example/api/attachments/7"
    assert origins.frontend_url("/login?x=1") == "https://app.clinic.example/login?x=1"
    assert origins.page_referrer_policy() == "strict-origin"


def test_backend_port_comes_from_its_origin_or_the_setting(env):
    env.setenv("CARE_BACKEND_ORIGIN", "http://localhost:8123")
    assert load_settings().backend_port == 8123
    env.setenv("CARE_BACKEND_PORT", "9000")
    assert load_settings().backend_port == 9000


@pytest.mark.parametrize(("front", "back"), [
    ("https://app.clinic.example", "https://api.other.example"),  # unrelated domains
    ("http://app.clinic.example", "https://api.clinic.example"),  # scheme differs
    ("https://care.github.io", "https://api.github.io"),  # shared hosting: other customers
    ("https://care.reflex.run", "https://care-backend.fly.dev"),
    ("http://localhost:3000", "http://127.0.0.1:8000"),
])
def test_cross_site_is_refused_at_start_with_the_reason(env, front, back):
    env.setenv("CARE_PUBLIC_ORIGIN", front)
    env.setenv("CARE_BACKEND_ORIGIN", back)
    with pytest.raises(SettingsError, match=r"different sites.*SameSite=Strict"):
        load_settings()


@pytest.mark.parametrize(("front", "back"), [
    ("http://localhost:3000", "http://localhost:8000"),
    ("https://app.clinic.example", "https://api.clinic.example"),
    ("https://clinic.example", "https://api.clinic.example"),
    ("https://app.clinic.co.uk", "https://api.clinic.co.uk"),
])
def test_same_site_pairs_start(env, front, back):
    env.setenv("CARE_PUBLIC_ORIGIN", front)
    env.setenv("CARE_BACKEND_ORIGIN", back)
    assert load_settings().split_origin


def test_an_origin_with_a_path_is_refused(env):
    env.setenv("CARE_BACKEND_ORIGIN", "https://api.clinic.example/backend")
    with pytest.raises(SettingsError, match="CARE_BACKEND_ORIGIN must be an origin"):
        load_settings()


def test_registrable_domain():
    assert registrable_domain("a.b.clinic.example") == "clinic.example"
    assert registrable_domain("app.clinic.co.uk") == "clinic.co.uk"
    assert registrable_domain("care.github.io") == "care.github.io"
    assert registrable_domain("localhost") == "localhost"
    # From the public-suffix list, as browsers decide: a platform's customers are different
    # sites, a country's second level is no site at all.
    assert registrable_domain("care.blogspot.com") == "care.blogspot.com"
    assert registrable_domain("api.clinic.com.au") == "clinic.com.au"
    assert registrable_domain("github.io") == "github.io"
