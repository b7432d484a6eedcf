"""Retrieval in a real browser: attach the GPT-2 paper in the composer, ask the walkthrough
question, see numbered citations (never raw markers) whose tooltip names the file and page."""

from __future__ import annotations

from playwright.sync_api import expect

from chat.retrieval.skill import MAX_QUERY
from tests.browser.conftest import ALICE, SCREENSHOT_DIR, Browsing, ChatServer
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
# Every POST response the page receives from now on waits for window.__held[i].release().
HOLD_POST_RESPONSES = """() => {
  window.__held = [];
  const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, ...rest) { this.__method = method; return open.call(this, method, ...rest); };
  XMLHttpRequest.prototype.send = function (body) {
    const onload = this.onload, xhr = this;
    if (this.__method.toUpperCase() === "POST") {
      this.onload = function (event) { window.__held.push({ text: xhr.responseText, release: () => onload.call(xhr, event) }); };
    }
    return send.call(this, body);
  };
}"""
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


def test_a_chip_status_pushed_before_the_chip_is_on_the_page_is_applied_when_it_arrives(
    browsing: Browsing, chat_server: ChatServer
):
    """The race of issue 13: the attached file finishes processing, and the socket pushes its
    chip, before the composer's response has put the message (and the chip) on the page. The
    response is held here until the push has arrived, so the order is certain: no
    htmx:oobErrorNoTarget, and the chip ends up showing the pushed status."""
    page = browsing.new_page(chat_server)
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)

    # Held in the page: Playwright's route.fetch() cannot pass a file input's upload on (the
    # server got it empty), so the page's XHRs hand their answer to htmx only when released.
    page.evaluate(HOLD_POST_RESPONSES)
    page.get_by_label("Attach files").set_input_files(str(PAPER))
    message_box(page).fill(QUESTION)
    page.get_by_role("button", name="Send").click()

    def pushed() -> bool:
        return any("file-chip--processed" in frame for frame in frames)

    def held() -> list[str]:
        return page.evaluate("() => window.__held.map((h) => h.text)")

    # Both the push and the response, in whichever order they come.
    for _ in range(int(RUN_TIMEOUT / 100)):  # wait_for_timeout lets Playwright's events in
        if pushed() and held():
            break
        page.wait_for_timeout(100)
    assert pushed(), "the chip's push (processed) never came"
    held = held()
    # Usually the response was rendered before processing ended (it shows the chip still
    # processing, so only the kept push can tell the page the file is done); on a busy machine
    # processing can win, and then the push's missing target is what is tested.
    assert len(held) == 1 and "file-chip-" in held[0]
    # The socket shows the question (with its chip) to every tab at the run's first event, so
    # the chip may be on the page already, from the socket; the response's copy is dropped.
    assert page.locator(".file-chip").count() <= 1
    page.evaluate("() => window.__held.forEach((h) => h.release())")

    expect(page.locator(".file-chip")).to_have_count(1)
    chip = page.locator(".file-chip").first
    expect(chip).to_contain_text("language_models_are_unsupervised_multitask_learners.pdf")
    expect(chip).to_contain_text("processed", timeout=RUN_TIMEOUT)
    expect(chip).not_to_contain_text("processing")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    assert not [line for line in browsing.console if "oobErrorNoTarget" in line or line.startswith("[error]")]


NOTES = "# Thermodynamics\n\nThe entropy of an isolated system never decreases over time.\n\nEnergy is conserved.\n"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


def _cited_answer(page, tmp_path):
    """Attach a short note, ask about it and return the answer's first citation marker."""
    notes = tmp_path / "thermo.md"
    notes.write_text(NOTES)
    start_conversation(page)
    page.get_by_label("Attach files").set_input_files(str(notes))
    message_box(page).fill("What does the entropy of an isolated system do over time?")
    page.get_by_role("button", name="Send").click()
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    marker = tutor_messages(page).last.locator("a.cite-marker").first
    expect(marker).to_be_visible()
    return marker


def test_on_a_phone_the_first_tap_on_a_citation_shows_its_source_and_the_second_opens_it(
    browsing: Browsing, chat_server: ChatServer, tmp_path
):
    page = browsing.new_page(chat_server, **PHONE)
    opened = []
    page.context.on("page", lambda new_page: opened.append(new_page))
    log_in(page, chat_server, ALICE[0])
    marker = _cited_answer(page, tmp_path)
    tip = marker.locator("xpath=following-sibling::span[contains(@class, 'cite-tip')]")

    marker.tap()
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("thermo.md")
    page.wait_for_timeout(500)  # a document opened by the tap would be there by now
    assert opened == [] and "/threads/" in page.url
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "citation-tip-phone.png"))

    with page.context.expect_page() as second:
        marker.tap()
    assert second.value.url == marker.evaluate("a => a.href")

    # A tap elsewhere puts the tip away; the next tap on the number shows it again.
    page.locator("body").tap(position={"x": 5, "y": 5})
    expect(tip).to_be_hidden()
    marker.tap()
    expect(tip).to_be_visible()
    page.wait_for_timeout(300)
    assert len(opened) == 1


def test_with_a_mouse_a_click_on_a_citation_opens_it_at_once(browsing: Browsing, chat_server: ChatServer, tmp_path):
    page = browsing.new_page(chat_server, viewport={"width": 1440, "height": 900})
    log_in(page, chat_server, ALICE[0])
    marker = _cited_answer(page, tmp_path)
    marker.hover()
    expect(marker.locator("xpath=following-sibling::span[contains(@class, 'cite-tip')]")).to_be_visible()
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "citation-tip-desktop.png"))
    with page.context.expect_page() as opened:
        marker.click()
    assert opened.value.url == marker.evaluate("a => a.href")


def test_a_long_unbroken_query_is_clipped_and_wrapped_in_the_steps_panel(browsing: Browsing, chat_server: ChatServer):
    long_words = " ".join(["<b>&" + "a" * 3000] * 10)
    page = browsing.new_page(chat_server, viewport={"width": 1440, "height": 900})
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    page.get_by_label("Attach files").set_input_files(str(PAPER))
    message_box(page).fill(long_words)
    page.get_by_role("button", name="Send").click()
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)

    search = page.locator("#steps .tool-call--file_search").first
    expect(search.locator(".search-query")).to_contain_text("<b>&aaa")  # escaped, not markup
    assert len(search.locator(".search-query").inner_text()) <= 160 + 2  # and its quotes
    whole = search.locator(".search-query-whole")
    whole.get_by_text("Whole query").click()
    # The model searches for at most MAX_QUERY characters of a message: here its start.
    expect(whole.locator("p")).to_have_text("<b>&" + "a" * (MAX_QUERY - len("<b>&")))
    panel = page.locator(".run-panel")
    assert panel.evaluate("(el) => el.scrollWidth <= el.clientWidth"), "the steps run past the panel"
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(SCREENSHOT_DIR / "long-query-steps-desktop.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(SCREENSHOT_DIR / "long-query-steps-phone.png"), full_page=True)
