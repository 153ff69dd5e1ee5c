"""Scale-out: PostgreSQL + Redis, two app workers, users' sessions on different workers."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.e2e.scaleout import scaleout  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e, pytest.mark.scaleout]


@pytest.fixture
def two_users(browser, scaleout):  # noqa: F811 - fixture injection
    provider_ctx = browser.new_context(base_url=scaleout.url_a)
    patient_ctx = browser.new_context(base_url=scaleout.url_b)
    for ctx in (provider_ctx, patient_ctx):
        ctx.set_default_timeout(20000)
    yield provider_ctx, patient_ctx
    provider_ctx.close()
    patient_ctx.close()


def test_sessions_are_held_by_different_workers(two_users, scaleout):  # noqa: F811
    provider_ctx, patient_ctx = two_users
    provider = provider_ctx.new_page()
    sign_in(provider, "jordan.lee@demo.care")
    expect(provider).to_have_url(re.compile(r"/dashboard"))
    patient = patient_ctx.new_page()
    sign_in(patient, "maria.garcia@demo.care")
    expect(patient).to_have_url(re.compile(r"/portal"))
    a_port = int(scaleout.worker_a.base_url.rsplit(":", 1)[1])
    routes = set(scaleout.proxy.websocket_routes)
    assert ("localhost", a_port) in routes
    assert any(host == "127.0.0.1" and port != a_port for host, port in routes)
