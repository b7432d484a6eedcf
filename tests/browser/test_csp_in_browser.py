"""The Content-Security-Policy in a real Chromium: it is enforced (an injected inline script
or style attribute is refused, and the fixtures notice), and every main page works under it
with no violation at a phone's and a desktop's size. The `browsing` fixture fails any
browser test whose pages report a CSP violation.

Screenshots of each page at each size land in $CSP_SCREENSHOTS (default /tmp/csp-shots).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.browser.conftest import ALICE, Browsing, ChatServer
from tests.browser.test_chat_in_browser import RUN_TIMEOUT, log_in, run_status, send, start_conversation, tutor_messages
from tests.browser.test_quiz_in_browser import ensure_quiz_tutor
from tests.fixtures import TRANSFORMER_PDF

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the `browser` fixture (autouse) skips, or fails under CI, first
    Page = expect = None

pytestmark = [pytest.mark.browser]

SHOTS = Path(os.environ.get("CSP_SCREENSHOTS", "/tmp/csp-shots"))
SIZES = {"phone": (390, 844), "desktop": (1440, 900)}
WORK = "My working so far:\n\n```python\nx = (14 - 11) / 3\n```\n\n| step | value |\n|:--|--:|\n| x | 1 |"
QUADRATIC = "Solve x^2 - 5x + 6 = 0"


def shoot(page: Page, name: str, size: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    # caret="initial": hiding the caret, Playwright writes style attributes into the page,
    # which htmx later copies onto swapped-in elements, a violation of the test's own making.
    page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True, caret="initial")


def sized_page(browsing: Browsing, server: ChatServer, size: str) -> Page:
    page = browsing.new_page(server)
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
    return page


def test_the_policy_refuses_injected_inline_code_and_the_fixture_notices(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    page.goto("/accounts/login/")
    page.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.__injectedRan = true";
          document.body.append(s);
          document.body.insertAdjacentHTML("beforeend", '<p id="styled" style="color: rgb(255, 0, 0)">x</p>');
        }"""
    )
    expect(page.locator("#styled")).to_have_css("color", re.compile(r"^(?!rgb\(255, 0, 0\))"))
    assert page.evaluate("window.__injectedRan") is None
    page.wait_for_timeout(200)  # console messages are delivered asynchronously
    seen = "\n".join(browsing.csp_violations)
    assert "script-src" in seen and "style-src" in seen
    browsing.csp_violations.clear()  # expected here; any other test fails on them


def test_an_inline_pdf_opens_in_chromiums_viewer_under_the_sandbox(browsing: Browsing, chat_server: ChatServer):
    paper = TRANSFORMER_PDF
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    page.goto("/assistants/")
    page.get_by_role("link", name="Edit Math Tutor").first.click()
    page.goto(page.url.replace("/edit/", "/files/"))
    page.get_by_label("Add files").set_input_files(str(paper))
    page.get_by_role("button", name="Upload").click()
    link = page.get_by_role("link", name=paper.name).first
    href = link.get_attribute("href")
    headers = page.request.get(href + "?inline=1").headers  # the same session's cookies
    assert headers["content-type"] == "application/pdf" and headers["content-disposition"].startswith("inline")
    assert headers["content-security-policy"] == "sandbox; default-src 'none'"
    page.goto(href + "?inline=1")
    # The viewer is Chromium's PDF extension, framed into the document (a sandboxed document
    # refusing it would leave no such frame and a blank page).
    for _ in range(100):  # hang guard: 10 s
        if any(frame.url.startswith("chrome-extension://") for frame in page.frames):
            break
        page.wait_for_timeout(100)
    assert any(frame.url.startswith("chrome-extension://") for frame in page.frames), [f.url for f in page.frames]
    page.wait_for_timeout(1500)  # only so the screenshot shows the rendered page
    shoot(page, "inline-pdf", "desktop")


@pytest.mark.parametrize("size", SIZES)
def test_every_main_page_works_under_the_policy(browsing: Browsing, chat_server: ChatServer, size: str):
    page = sized_page(browsing, chat_server, size)

    page.goto("/signup/")
    expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
    shoot(page, "signup", size)
    page.goto("/accounts/login/")
    shoot(page, "login", size)
    log_in(page, chat_server, ALICE[0])

    # A thread: code and a table in the student's message, an answer with math streamed in.
    start_conversation(page)
    send(page, WORK, with_enter=False, shows="My working so far")
    expect(tutor_messages(page)).to_have_count(1, timeout=RUN_TIMEOUT)
    expect(run_status(page)).to_have_text(re.compile(r"Completed"), timeout=RUN_TIMEOUT)
    send(page, QUADRATIC)
    expect(tutor_messages(page)).to_have_count(2, timeout=RUN_TIMEOUT)
    expect(run_status(page)).to_have_text(re.compile(r"Completed"), timeout=RUN_TIMEOUT)
    answer = tutor_messages(page).last
    expect(answer).to_contain_text("Answer")
    expect(answer.locator(".katex").first).to_be_visible()
    expect(page.locator(".message .highlight").first).to_be_visible()
    expect(page.locator(".message th.align-right")).to_have_css("text-align", "right")
    shoot(page, "thread", size)
    page.reload()  # the page rebuilt from the database typesets the same way
    expect(tutor_messages(page).last.locator(".katex").first).to_be_visible()

    ensure_quiz_tutor(page)
    page.goto("/assistants/")
    shoot(page, "assistants", size)
    page.get_by_role("link", name="Edit Math Tutor").first.click()
    expect(page.get_by_label("Name")).to_have_value("Math Tutor")
    shoot(page, "assistant-edit", size)
    page.goto(page.url.replace("/edit/", "/files/"))
    expect(page.get_by_label("Add files")).to_be_visible()
    shoot(page, "files", size)
    page.goto("/assistants/")
    page.get_by_role("link", name="Functions of Quiz Tutor").click()
    expect(page.get_by_role("heading", name="display_quiz")).to_be_visible()
    shoot(page, "functions", size)

    page.goto("/account/api-keys/")
    shoot(page, "api-keys", size)
    page.goto("/admin/")
    expect(page.get_by_role("heading", name=re.compile("Site administration"))).to_be_visible()
    shoot(page, "admin", size)
    page.goto("/admin/auth/user/")
    page.get_by_role("link", name=ALICE[0], exact=True).click()
    expect(page.get_by_label("Username:")).to_have_value(ALICE[0])
    shoot(page, "admin-user", size)


def test_a_field_left_with_an_empty_style_attribute_is_swapped_without_a_violation(
    browsing: Browsing, chat_server: ChatServer
):
    """A screenshot's caret hiding (Playwright's default) or a browser extension styles a
    field from script and leaves ``style=""`` on it. htmx used to copy a swapped element's
    old style attribute onto its new one while it settles: a violation (the hash of an
    empty string) at every swap of the composer, which holds #id_text."""
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    page.evaluate(
        """() => document.querySelectorAll("input, textarea").forEach((field) => {
          field.style.setProperty("caret-color", "transparent");
          field.style.removeProperty("caret-color");
        })"""
    )
    assert page.locator("#id_text").get_attribute("style") == ""
    send(page, QUADRATIC)
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    page.wait_for_timeout(200)  # console messages are delivered asynchronously
    assert not browsing.csp_violations
