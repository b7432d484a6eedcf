"""The chat page's own controls in a real Chromium: the conversation sidebar (search, a
drawer on phones), Stop instead of Send during a run, the message counter and its limit,
and Copy as Markdown."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ALICE, Browsing, ChatServer
from tests.browser.test_chat_in_browser import (
    RUN_TIMEOUT,
    SMALL_TALK,
    log_in,
    message_box,
    run_status,
    send,
    start_conversation,
    tutor_messages,
    user_messages,
    wait_for_run_to_start,
    wait_for_streamed_text,
)

from tests.browser.test_layout import LAB_TUTOR, LAB_USER, ensure_lab_tutor

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the `browser` fixture (autouse) skips, or fails under CI, first
    Page = expect = None

pytestmark = [pytest.mark.browser]

LIMIT = 256_000  # MAX_MESSAGE_CHARS, the hosted API's limit


def sidebar(page: Page):
    return page.get_by_role("complementary", name="Conversations")


def test_the_sidebar_lists_and_searches_conversations(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    send(page, "What is a **rhombus**?", shows="What is a rhombus?")
    expect(run_status(page)).to_have_text(re.compile("Completed"), timeout=RUN_TIMEOUT)
    start_conversation(page)
    send(page, "Solve x^2 - 5x + 6 = 0")
    expect(run_status(page)).to_have_text(re.compile("Completed"), timeout=RUN_TIMEOUT)

    page.reload()
    expect(sidebar(page).get_by_role("heading", name="Today")).to_be_visible()
    expect(sidebar(page).get_by_role("link", name="What is a rhombus?").first).to_be_visible()  # no Markdown stars
    current = sidebar(page).locator("[aria-current=page]")
    expect(current).to_have_text("Solve x^2 - 5x + 6 = 0")

    sidebar(page).get_by_role("searchbox", name="Search conversations").fill("rhomb")
    expect(sidebar(page).get_by_role("link", name="Solve x^2 - 5x + 6 = 0")).to_have_count(0)
    expect(sidebar(page).get_by_role("link", name="What is a rhombus?").first).to_be_visible()

    # Collapsible on a desktop
    toggle = page.get_by_role("button", name="Conversations", exact=True)
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.click()
    expect(sidebar(page)).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(sidebar(page)).to_be_visible()


def test_on_a_phone_the_sidebar_is_a_drawer(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    expect(sidebar(page)).to_be_hidden()
    toggle = page.get_by_role("button", name="Conversations", exact=True)
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(sidebar(page)).to_be_visible()
    expect(sidebar(page).get_by_role("searchbox")).to_be_focused()
    page.keyboard.press("Escape")
    expect(sidebar(page)).to_be_hidden()
    toggle.click()
    sidebar(page).get_by_role("button", name="Close conversations").click()
    expect(sidebar(page)).to_be_hidden()


def test_during_a_run_the_composer_offers_stop_instead_of_send(browsing: Browsing, slow_chat_server: ChatServer):
    page = browsing.new_page(slow_chat_server)
    log_in(page, slow_chat_server, ALICE[0])
    start_conversation(page)
    send(page, SMALL_TALK)
    wait_for_run_to_start(page)
    wait_for_streamed_text(page, at_least=10)  # an answer has begun, for Stop to cut short
    composer = page.locator("#composer")
    expect(composer.get_by_role("button", name="Send")).to_have_count(0)
    composer.get_by_role("button", name="Stop").click()
    expect(run_status(page)).to_have_text("Cancelled", timeout=RUN_TIMEOUT)
    expect(tutor_messages(page).locator(".message__note")).to_have_text("Stopped: you cancelled this answer.")
    expect(composer.get_by_role("button", name="Send")).to_be_enabled()
    expect(composer.get_by_role("button", name="Stop")).to_have_count(0)

    # Stop comes back with the next run, and Send once it has finished
    send(page, "Solve x^2 - 5x + 6 = 0")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    expect(composer.get_by_role("button", name="Send")).to_be_visible()


def test_a_message_over_the_limit_is_kept_whole_counted_and_refused(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    box = message_box(page)
    counter = page.locator("#char-count")
    box.fill("a" * 100)
    expect(counter).to_have_text("100 / 256,000 characters")
    box.fill("x" * (LIMIT + 50))
    assert len(box.input_value()) == LIMIT + 50  # nothing cut off silently
    expect(counter).to_have_text(re.compile(r"Too long to send: 256,050 characters, the limit is 256,000\. Remove 50"))
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    box.press("Enter")
    expect(user_messages(page)).to_have_count(0)
    box.press("Backspace")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()
    box.fill("x" * LIMIT)
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def test_copy_puts_the_message_markdown_on_the_clipboard(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    text = "Is `x = 3` right for **3x = 9**?"
    send(page, text, shows="Is x = 3 right for 3x = 9?")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    mine = user_messages(page).last
    mine.get_by_role("button", name="Copy message as Markdown").click()
    expect(mine.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == text
    answer = tutor_messages(page).last
    answer.get_by_role("button", name="Copy message as Markdown").click()
    expect(answer.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.strip() and copied != text


def test_the_last_answer_can_be_regenerated_and_the_last_message_edited(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    send(page, "Solve x^2 - 5x + 6 = 0")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    first_answer = tutor_messages(page).last.get_attribute("id")

    page.get_by_role("button", name="Answer again").click()
    expect(page.locator(f"#{first_answer}")).to_have_count(0)
    expect(tutor_messages(page)).to_have_count(1, timeout=RUN_TIMEOUT)
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    assert tutor_messages(page).last.get_attribute("id") != first_answer
    expect(user_messages(page)).to_have_count(1)

    page.get_by_role("link", name="Edit last message").click()
    expect(message_box(page)).to_have_value("Solve x^2 - 5x + 6 = 0")
    expect(page.get_by_role("note").filter(has_text="Editing your last message")).to_be_visible()
    message_box(page).fill("Solve x^2 - 7x + 12 = 0")
    page.get_by_role("button", name="Send").click()
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).last).to_contain_text("Solve x^2 - 7x + 12 = 0")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    expect(tutor_messages(page)).to_have_count(1)
    expect(tutor_messages(page).last).to_contain_text("4")


def test_tool_work_shows_inline_where_it_happened_the_latest_unfolded(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, LAB_USER)
    ensure_lab_tutor(page)
    start_conversation(page)
    page.get_by_label("Assistant", exact=True).select_option(label=LAB_TUTOR)
    send(page, "plot y = x^2 from -5 to 5")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    answers = page.get_by_role("article", name=LAB_TUTOR)
    ran = answers.locator("details.tool-work", has_text="Ran Python")
    expect(ran).to_have_count(1)
    expect(ran).to_have_attribute("open", "")
    expect(ran.locator(".ci-input")).to_contain_text("plt")
    expect(ran.locator("figure img")).to_have_count(1)

    send(page, "Generate the first 20 fibonacci numbers with code")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    page.reload()  # the page rebuilt from the database places them the same way
    blocks = page.locator("#messages details.tool-work")
    expect(blocks).to_have_count(2)
    assert [b.get_attribute("open") for b in blocks.all()] == [None, ""]  # older folded, latest open
    expect(blocks.last).to_contain_text("fib")
    # In order: each block sits in the answer of its own run, after the question that asked for it.
    order = page.evaluate(
        "() => Array.from(document.querySelectorAll('#messages .message')).map((m) => m.querySelector('details.tool-work') ? 'tools' : m.getAttribute('aria-label'))"
    )
    assert order.index("tools") > order.index("You") and order.count("tools") == 2


def test_a_file_of_the_wrong_type_is_refused_before_it_is_uploaded(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if r.method == "POST" else None)
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    uploads.clear()
    picker = page.get_by_label("Attach files")
    picker.set_input_files([{"name": "tool.exe", "mimeType": "application/octet-stream", "buffer": b"MZ" * 10}])
    expect(page.locator("#composer-files-check")).to_have_text(re.compile("tool.exe: files of type “.exe” cannot be searched"))
    assert picker.evaluate("(input) => input.files.length") == 0
    picker.set_input_files([{"name": "notes.md", "mimeType": "text/markdown", "buffer": b"# Notes"}])
    expect(page.locator("#composer-files-check")).to_be_hidden()
    assert picker.evaluate("(input) => input.files.length") == 1
    assert uploads == []  # nothing was sent while choosing
