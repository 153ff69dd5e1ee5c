"""The admin marks Dr. Priya Patel as clinic lead on the admin page; she then reaches the
response-times page from her navigation. A provider who is not a lead sees no link (and the
demo's lead, Dr. Jordan Lee, does)."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import update

from care_messaging.models import Provider
from tests.browser import sign_in
from tests.e2e.app_data import actor, app_session

ADMIN = "admin@demo.care"
PATEL = "priya.patel@demo.care"
NOVAK = "casey.novak@demo.care"
LEE = "jordan.lee@demo.care"


def _nav(page):
    return page.get_by_role("navigation", name="Main")


def test_admin_marks_a_lead_who_then_reaches_response_times_from_the_nav(new_context,
                                                                         app_server):
    try:
        patel = new_context().new_page()
        sign_in(patel, PATEL)
        expect(patel).to_have_url(re.compile(r"/dashboard"))
        expect(_nav(patel).get_by_role("link", name="Account")).to_be_visible()
        expect(_nav(patel).get_by_role("link", name="Response times")).to_have_count(0)

        admin = new_context().new_page()
        sign_in(admin, ADMIN)
        expect(admin).to_have_url(re.compile(r"/admin"))
        admin.get_by_role("button", name=f"Make {PATEL} a clinic lead").click()
        expect(admin.get_by_role("button", name=f"Remove {PATEL} as clinic lead")).to_be_visible()
        expect(admin.get_by_role("status").filter(has_text="Marked as clinic lead")).to_be_visible()

        # Her next page load carries the flag: the link appears and leads to the page.
        patel.reload()
        link = _nav(patel).get_by_role("link", name="Response times")
        expect(link).to_be_visible()
        link.click()
        expect(patel).to_have_url(re.compile(r"/response-times"))
        expect(patel.get_by_role("heading", name="Response times")).to_be_visible()
        expect(patel.get_by_test_id("weekly-chart").get_by_role("img")).to_have_count(8)
        expect(patel.get_by_text("This page is for clinic leads.")).to_have_count(0)

        # Another provider, not a lead: no link, and the page refuses.
        novak = new_context().new_page()
        sign_in(novak, NOVAK)
        expect(novak).to_have_url(re.compile(r"/dashboard"))
        expect(_nav(novak).get_by_role("link", name="Account")).to_be_visible()
        expect(_nav(novak).get_by_role("link", name="Response times")).to_have_count(0)
        novak.goto("/response-times")
        expect(novak.get_by_text("This page is for clinic leads.")).to_be_visible()

        # The demo's lead has the link from the seed.
        lee = new_context().new_page()
        sign_in(lee, LEE)
        expect(lee).to_have_url(re.compile(r"/dashboard"))
        expect(_nav(lee).get_by_role("link", name="Response times")).to_be_visible()

        # Unmarked: gone on her next load.
        admin.get_by_role("button", name=f"Remove {PATEL} as clinic lead").click()
        expect(admin.get_by_role("button", name=f"Make {PATEL} a clinic lead")).to_be_visible()
        patel.goto("/dashboard")
        expect(_nav(patel).get_by_role("link", name="Account")).to_be_visible()
        expect(_nav(patel).get_by_role("link", name="Response times")).to_have_count(0)
    finally:
        # Other tests on this server take Dr. Patel as the provider who is not a lead.
        with app_session(app_server) as s:
            s.execute(update(Provider).where(Provider.id == actor(s, PATEL).provider_id)
                      .values(is_lead=False))
            s.commit()
