"""What a newcomer met in the first minutes, in a real Chromium against a real Daphne: a
pasted Python block that would not run, an API key created twice by a reload, times in
UTC, a missing icon. Each page checked here also loads without a console error or a
failed request, and is photographed at a phone's and a desktop's width."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import ALICE, Browsing, ChatServer, screenshots
from tests.browser.test_chat_in_browser import (
    RUN_TIMEOUT,
    log_in,
    message_box,
    run_status,
    user_messages,
    wait_for_socket,
)

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the `browser` fixture (autouse) skips, or fails under CI, first
    Page = expect = None

pytestmark = [pytest.mark.browser]

CODER = "Python Coder"


def ensure_coder(page: Page) -> None:
    """Through the UI, once per server: an assistant with Code Interpreter on."""
    page.goto("/assistants/")
    if page.get_by_text(CODER).count():
        return
    page.goto("/assistants/new/")
    page.get_by_label("Name").fill(CODER)
    page.get_by_label("Code Interpreter").check()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/assistants/asst_\w+/edit/$"))  # its own page: files and functions next


def open_new_thread(page: Page, assistant: str) -> None:
    page.goto("/threads/")
    page.get_by_label("Assistant").select_option(label=assistant)
    page.get_by_role("button", name="New conversation").click()
    expect(page).to_have_url(re.compile(r"/threads/thread_\w+/$"))
    wait_for_socket(page)


def test_a_python_block_pasted_with_line_breaks_runs(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    ensure_coder(page)
    open_new_thread(page, CODER)
    # What a paste puts in the box; the browser submits its line breaks as CRLF.
    message_box(page).fill("Run this:\n```python\nprint(6 * 7)\nprint('done')\n```")
    page.get_by_role("button", name="Send").click()
    expect(user_messages(page).last).to_contain_text("print(6 * 7)")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT * 2)
    expect(page.get_by_role("article").last).to_contain_text("42")
    expect(page.get_by_role("article").last).to_contain_text("done")
    browsing.assert_quiet()


def key_rows(page: Page):
    return page.locator("table.key-list tbody tr").filter(has=page.locator("code"))


def test_reloading_after_creating_a_key_creates_no_second_key(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, chat_server, ALICE[0])
    page.goto("/account/api-keys/")
    before = key_rows(page).count()
    page.get_by_label("Name (optional)").fill("reload test")
    page.get_by_role("button", name="Create a key").click()
    key = page.locator("#new-api-key").text_content()
    assert key and key.startswith("sk-")
    expect(page.get_by_role("status").filter(has_text="Created the key")).to_be_visible()
    expect(key_rows(page)).to_have_count(before + 1)

    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == key
    screenshots(page, "api-keys-new")

    page.reload()
    expect(key_rows(page)).to_have_count(before + 1)  # no second key
    expect(page.locator("#new-api-key")).to_have_count(0)  # and the key is not shown again
    for link in page.locator("main a[href]").all():  # no link on the page leads nowhere
        href = link.get_attribute("href")
        if href and not href.startswith("#"):
            assert page.request.get(href).status < 400, href
    browsing.assert_quiet()


def test_times_show_in_the_readers_zone_with_the_date_when_not_today(browsing: Browsing, chat_server: ChatServer):
    tokyo = ZoneInfo("Asia/Tokyo")
    page = browsing.new_page(chat_server, timezone_id="Asia/Tokyo", locale="en-GB")
    log_in(page, chat_server, ALICE[0])
    open_new_thread(page, "Math Tutor")
    message_box(page).fill("Solve 2x = 8")
    message_box(page).press("Enter")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)

    stamp = page.locator(".message time").first
    moment = datetime.fromisoformat(stamp.get_attribute("datetime")).astimezone(tokyo)
    # Pushed over the socket, then shown again after a reload: local time, no "UTC".
    for _ in range(2):
        expect(stamp).to_have_text(moment.strftime("%H:%M"))
        assert moment.strftime("%Y") in (stamp.get_attribute("title") or "")
        page.reload()
        wait_for_socket(page)
    screenshots(page, "thread-times")
    browsing.assert_quiet()

    # Two days later, the same message says which day it was.
    page.clock.set_fixed_time(moment + timedelta(days=2))
    page.reload()
    expect(stamp).to_have_text(f"{moment.day} {moment:%b}, {moment:%H:%M}")


def test_every_page_links_an_icon_that_loads(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    page.goto("/accounts/login/")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    response = page.request.get(icon)
    assert response.status == 200 and response.headers["content-type"].startswith("image/")
    assert page.request.get("/favicon.ico").status == 200  # redirected to the same icon
    screenshots(page, "login")
    browsing.assert_quiet()
