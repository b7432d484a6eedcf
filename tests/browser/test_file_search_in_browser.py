"""Retrieval in a real browser: attach the GPT-2 paper in the composer, ask the walkthrough
question, see numbered citations (never raw markers) whose tooltip names the file and page."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import ALICE, Browsing, ChatServer
from tests.browser.test_chat_in_browser import (
    RUN_TIMEOUT,
    log_in,
    message_box,
    recorded,
    run_status,
    start_conversation,
    tutor_messages,
)
from tests.fixtures import GPT2_PDF

PAPER = GPT2_PDF
QUESTION = "What are some cool math concepts behind this ML paper pdf? Explain in two sentences."


def test_an_attached_paper_is_searched_and_cited(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    page.get_by_label("Attach files").set_input_files(str(PAPER))
    message_box(page).fill(QUESTION)
    page.get_by_role("button", name="Send").click()

    chip = page.locator(".file-chip").first
    expect(chip).to_contain_text("language_models_are_unsupervised_multitask_learners.pdf")
    expect(chip).to_contain_text("processed", timeout=RUN_TIMEOUT)
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)

    # Every state of the streaming text the page went through (recorded by a
    # MutationObserver): numbered markers, never a marker or a piece of one.
    states = [text for entry in recorded(page) for _span, text in entry["streams"]]
    assert any("[1]" in text for text in states), states[-3:]
    assert not [text for text in states if "【" in text or "†" in text or "】" in text]

    answer = tutor_messages(page).last
    markers = answer.locator("a.cite-marker")
    expect(markers.first).to_be_visible()
    assert "【" not in answer.inner_text() and "】" not in answer.inner_text()
    href = markers.first.get_attribute("href")
    assert "/content/?inline=1#page=" in href

    markers.first.focus()
    tip = answer.locator(".cite-tip").first
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("language_models_are_unsupervised_multitask_learners.pdf")
    expect(tip).to_contain_text("page")

    # The step panel shows what was searched and what came back.
    expect(page.locator(".tool-call--file_search")).to_contain_text("file_search")
    expect(page.locator(".tool-call--file_search")).to_contain_text("passages")
