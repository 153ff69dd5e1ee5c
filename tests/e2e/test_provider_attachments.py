"""Issue 17 item 10: a provider attaches files from the dashboard (desktop and phone); the
patient sees the same previews in the portal and downloads the same bytes."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from care_messaging.services.conversations import create_conversation
from tests.browser import PHONE, screenshot, sign_in
from tests.e2e.app_data import actor, app_session, patient_id
from tests.fixtures import files

pytestmark = pytest.mark.e2e
LEE, MARIA = "jordan.lee@demo.care", "maria.garcia@demo.care"


@pytest.fixture
def conversation(app_server) -> tuple[int, str]:
    topic = f"Wound care {uuid.uuid4().hex[:6]}"
    with app_session(app_server) as s:
        c, _ = create_conversation(s, reason="Test follow-up", actor=actor(s, LEE), patient_id=patient_id(s, MARIA),
                                   topic=topic, body="How is the dressing?")
        s.commit()
        return c.id or 0, topic


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_provider_attaches_and_patient_sees_the_same_previews(new_context, conversation,
                                                              tmp_path, size):
    cid, topic = conversation
    ctx = ({"viewport": PHONE, "is_mobile": True, "has_touch": True} if size == "phone"
           else {"viewport": {"width": 1440, "height": 900}})
    lee = new_context(**ctx).new_page()
    sign_in(lee, LEE)
    expect(lee).to_have_url(re.compile(r"/dashboard/?$"))
    lee.goto(f"/dashboard?c={cid}")
    expect(lee.get_by_role("heading", name=topic)).to_be_visible()
    image, document = tmp_path / "dressing.png", tmp_path / "care-plan.pdf"
    image.write_bytes(files.png(16, 16, (200, 90, 40)))
    document.write_bytes(files.pdf(f"Care plan {uuid.uuid4().hex[:8]}"))
    attach = lee.get_by_role("button", name="Attach files")
    expect(attach).to_be_visible()
    with lee.expect_file_chooser() as chooser:
        attach.click()
    chooser.value.set_files([str(image), str(document)])
    chips = lee.get_by_role("list", name="Files to send")
    expect(chips).to_contain_text("dressing.png")
    expect(chips).to_contain_text("care-plan.pdf")
    expect(chips.locator("img.pending-thumbnail")).to_have_count(1)  # a preview before sending
    screenshot(lee, f"provider-attach-chips-{size}")
    text = f"Here is your care plan {uuid.uuid4().hex[:6]}"
    lee.get_by_label("Reply", exact=True).fill(text)
    lee.get_by_role("button", name="Send", exact=True).click()
    mine = lee.get_by_role("log", name="Messages").get_by_role("article").filter(has_text=text)
    expect(mine.get_by_role("img", name="dressing.png")).to_be_visible()
    expect(mine.get_by_role("link", name="Download care-plan.pdf")).to_be_visible()
    expect(lee.get_by_role("list", name="Files to send")).to_have_count(0)
    screenshot(lee, f"provider-attach-sent-{size}")

    maria = new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                        accept_downloads=True).new_page()
    sign_in(maria, MARIA)
    expect(maria).to_have_url(re.compile(r"/portal/?$"))
    maria.goto(f"/portal?c={cid}")
    theirs = maria.get_by_role("log", name="Messages").get_by_role("article").filter(
        has_text=text)
    expect(theirs.get_by_role("img", name="dressing.png")).to_be_visible()
    with maria.expect_download() as download_info:
        theirs.get_by_role("link", name="Download care-plan.pdf").click()
    assert Path(download_info.value.path()).read_bytes() == document.read_bytes()


def test_provider_refused_file_explains_why(new_context, conversation, tmp_path):
    cid, topic = conversation
    lee = new_context().new_page()
    sign_in(lee, LEE)
    expect(lee).to_have_url(re.compile(r"/dashboard/?$"))
    lee.goto(f"/dashboard?c={cid}")
    expect(lee.get_by_role("heading", name=topic)).to_be_visible()
    disguised = tmp_path / "results.pdf"
    disguised.write_bytes(files.png())
    lee.locator("#chat-upload input[type=file]").set_input_files(str(disguised))
    expect(lee.get_by_role("alert")).to_contain_text("does not match its contents")
    expect(lee.get_by_role("list", name="Files to send")).to_have_count(0)
