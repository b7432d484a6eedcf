"""The chat page's own controls in a real Chromium: the conversation sidebar (search, a
drawer on phones), Stop instead of Send during a run, the message counter and its limit,
and Copy as Markdown."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ALICE, BOB, SCREENSHOT_DIR, Browsing, ChatServer, screenshots
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
    wait_for_socket,
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
    # Listed as soon as it was sent, on top of "Today", once, without a reload (the shared
    # server may hold other tests' conversations of alice's further down).
    today = sidebar(page).locator("#conversations-today > li")
    expect(today.first.get_by_role("link")).to_have_text("Solve x^2 - 5x + 6 = 0")
    expect(today.nth(1).get_by_role("link")).to_have_text("What is a rhombus?")
    expect(sidebar(page).get_by_role("link", name="Solve x^2 - 5x + 6 = 0")).to_have_count(1)
    expect(today.first.locator("[aria-current=page]")).to_have_count(1)

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
    expect(toggle).to_be_focused()  # not <body>: the keyboard goes on from the button that opened it
    toggle.click()
    sidebar(page).get_by_role("button", name="Close conversations").click()
    expect(sidebar(page)).to_be_hidden()
    expect(toggle).to_be_focused()


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
    expect(tutor_messages(page).locator(".message__note")).to_have_text("Stopped: the answer was cancelled before it was finished.")
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
    # while editing, Answer again would throw the edit away: only Send and Cancel editing
    expect(page.get_by_role("button", name="Answer again")).to_be_hidden()
    expect(page.get_by_role("link", name="Edit last message")).to_be_hidden()
    message_box(page).fill("Solve x^2 - 7x + 12 = 0")
    page.get_by_role("button", name="Send").click()
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page).last).to_contain_text("Solve x^2 - 7x + 12 = 0")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    expect(tutor_messages(page)).to_have_count(1)
    expect(tutor_messages(page).last).to_contain_text("4")
    # The first question named the conversation: its edit renames it, heading and sidebar.
    expect(page.get_by_role("heading", name="Solve x^2 - 7x + 12 = 0")).to_be_visible()
    expect(page.locator("#conversation-list").get_by_role("link", name="Solve x^2 - 7x + 12 = 0")).to_be_visible()


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
    # The figure shows once, in the answer; the output under "Ran Python" points to it.
    expect(ran.locator("img")).to_have_count(0)
    expect(ran.locator(".ci-figure-link")).to_contain_text("shown in the answer below")
    expect(answers.last.locator(".message__image img")).to_have_count(1)

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
    expect(page.locator("#composer-files-check")).to_have_text(
        re.compile("tool.exe: files of type “.exe” cannot be searched")
    )
    assert picker.evaluate("(input) => input.files.length") == 0
    picker.set_input_files([{"name": "notes.md", "mimeType": "text/markdown", "buffer": b"# Notes"}])
    expect(page.locator("#composer-files-check")).to_be_hidden()
    assert picker.evaluate("(input) => input.files.length") == 1
    assert uploads == []  # nothing was sent while choosing


def test_answer_again_removes_the_old_answer_when_the_socket_replaces_the_button_first(
    browsing: Browsing, slow_chat_server: ChatServer
):
    """The race CI once lost: the run panel the socket pushes for the new run replaces the
    Answer again button (it lives in #composer-action) before the button's own response
    arrives; that response must still take the old answer off the page. The response is
    held here until the socket has pushed, so the order is certain."""
    page = browsing.new_page(slow_chat_server)
    log_in(page, slow_chat_server, ALICE[0])
    start_conversation(page)
    send(page, "Solve x^2 - 5x + 6 = 0")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    first_answer = tutor_messages(page).last.get_attribute("id")

    held = []

    def hold(route):
        held.append((route, route.fetch()))  # the server has answered; the page waits

    page.route("**/answer-again/", hold)
    again = page.get_by_role("button", name="Answer again")
    again.click()
    composer = page.locator("#composer")
    expect(composer.get_by_role("button", name="Stop")).to_be_visible(timeout=RUN_TIMEOUT)  # pushed by the socket
    assert again.count() == 0  # the clicked button has left the page
    route, response = held[0]
    route.fulfill(response=response)
    expect(page.locator(f"#{first_answer}")).to_have_count(0)
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    expect(tutor_messages(page)).to_have_count(1)
    assert tutor_messages(page).last.get_attribute("id") != first_answer
    assert not [line for line in browsing.console if "oobErrorNoTarget" in line]


def two_tabs_on_an_answered_conversation(
    browsing: Browsing, server: ChatServer, question: str
) -> tuple[Page, Page, str]:
    """Alice asks ``question`` in a new conversation and, once it is answered, opens it in
    a second tab (its socket connected): (first tab, second tab, the thread's id)."""
    first = browsing.new_page(server)
    log_in(first, server, ALICE[0])
    thread_id = start_conversation(first)
    send(first, question)
    expect(run_status(first)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    second = browsing.new_page(server)
    log_in(second, server, ALICE[0])
    second.goto(f"/threads/{thread_id}/")
    wait_for_socket(second)
    return first, second, thread_id


def test_answer_again_in_one_tab_takes_the_old_answer_off_the_other(browsing: Browsing, chat_server: ChatServer):
    """Two tabs of one conversation: Answer again in the first takes the old answer off the
    second too (over its socket), and each shows the new answer once, with no error."""
    first, second, _ = two_tabs_on_an_answered_conversation(browsing, chat_server, "Solve x^2 - 5x + 6 = 0")
    old_answer = tutor_messages(first).last.get_attribute("id")
    expect(second.locator(f"#{old_answer}")).to_have_count(1)

    first.get_by_role("button", name="Answer again").click()
    for page in (first, second):
        expect(page.locator(f"#{old_answer}")).to_have_count(0)
        expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
        expect(tutor_messages(page)).to_have_count(1)
        expect(user_messages(page)).to_have_count(1)
        expect(page.locator("[data-removed-messages]")).to_have_count(0)
    assert (
        tutor_messages(second).last.get_attribute("id") == tutor_messages(first).last.get_attribute("id") != old_answer
    )
    assert not [line for line in browsing.console if "oobError" in line]


def test_an_edit_that_renames_the_conversation_renames_it_in_every_tab(browsing: Browsing, chat_server: ChatServer):
    """The first question named the conversation; editing it in one tab names it anew in
    both tabs, live: the heading, the sidebar's entry and the browser's title, all as text."""
    first, second, thread_id = two_tabs_on_an_answered_conversation(browsing, chat_server, "Solve x^2 - 5x + 6 = 0")
    expect(second).to_have_title("Solve x^2 - 5x + 6 = 0 · Tutor")

    first.get_by_role("link", name="Edit last message").click()
    message_box(first).fill("Is <b>7</b> & 11 prime?")
    first.get_by_role("button", name="Send").click()
    renamed = "Is <b>7</b> & 11 prime?"
    for page in (first, second):
        expect(page.get_by_role("heading", level=1)).to_have_text(renamed, timeout=RUN_TIMEOUT)
        expect(page.locator(f"#conversation-{thread_id}").get_by_role("link", name=renamed)).to_be_visible()
        expect(page).to_have_title(f"{renamed} · Tutor")
        expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    screenshots(second, "renamed-by-edit")
    assert not [line for line in browsing.console if "oobError" in line]


def test_a_rename_from_the_menu_renames_the_conversation_in_every_tab(browsing: Browsing, chat_server: ChatServer):
    """Renamed from "Conversation settings" in one tab: the other tab's heading, sidebar
    entry and browser title follow, live, as text."""
    first, second, thread_id = two_tabs_on_an_answered_conversation(browsing, chat_server, "What is a prime number?")

    renamed = "Is <b>7</b> & 11 prime?"
    first.get_by_text("Conversation settings").click()
    first.get_by_label("Title", exact=True).fill(renamed)
    first.get_by_role("button", name="Rename").click()
    expect(first.get_by_role("heading", level=1)).to_have_text(renamed)
    expect(second.get_by_role("heading", level=1)).to_have_text(renamed)
    expect(second.locator(f"#conversation-{thread_id}").get_by_role("link", name=renamed)).to_be_visible()
    expect(second).to_have_title(f"{renamed} · Tutor")
    screenshots(second, "renamed-by-menu")
    assert not [line for line in browsing.console if "oobError" in line]


def test_a_conversation_started_renamed_and_deleted_in_one_tab_changes_the_sidebar_of_another(
    browsing: Browsing, chat_server: ChatServer
):
    """Alice's first tab shows one conversation; in a second tab she starts another, renames
    it from its sidebar menu, then deletes it: the first tab's sidebar follows each step,
    live, the titles as text. Bob's page, open all along, never lists it."""
    first, _, _ = two_tabs_on_an_answered_conversation(browsing, chat_server, "What is a rhombus?")
    bobs = browsing.new_page(chat_server)
    log_in(bobs, chat_server, BOB[0])
    start_conversation(bobs)
    send(bobs, "What is a kite?")
    expect(run_status(bobs)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    second = browsing.new_page(chat_server)
    log_in(second, chat_server, ALICE[0])
    new_id = start_conversation(second)
    asked = "Is <b>7</b> & 11 prime?"
    send(second, asked)
    new_entry = sidebar(first).locator(f"#conversation-{new_id}")
    expect(new_entry.get_by_role("link", name=asked, exact=True)).to_be_visible()
    expect(sidebar(first).get_by_role("listitem").first).to_have_id(f"conversation-{new_id}")  # on top
    expect(first.locator("[aria-current=page]")).not_to_have_text(asked)  # the first tab's page stays current
    expect(run_status(second)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    screenshots(first, "sidebar-listed-from-another-tab")

    renamed = "Primes <i>&</i> co"
    entry = sidebar(second).locator(f"#conversation-{new_id}")
    entry.locator("summary", has_text="Rename or delete").click()
    entry.get_by_label("New title").fill(renamed)
    entry.get_by_role("button", name="Rename").click()
    expect(new_entry.get_by_role("link", name=renamed, exact=True)).to_be_visible()

    second.goto(f"/threads/{new_id}/delete/")
    second.get_by_role("button", name="Delete conversation").click()
    expect(second.get_by_role("status").filter(has_text="Deleted the conversation")).to_be_visible()
    expect(new_entry).to_have_count(0)
    expect(sidebar(first).locator("[aria-current=page]")).to_have_text("What is a rhombus?")  # its own entry stays
    expect(bobs.locator(f"#conversation-{new_id}")).to_have_count(0)
    screenshots(first, "sidebar-unlisted-from-another-tab")
    assert not [line for line in browsing.console if "oobError" in line or line.startswith("[error]")]


def test_a_later_question_moves_its_conversation_on_top_in_every_tab_but_not_into_search_results(
    browsing: Browsing, chat_server: ChatServer
):
    """A new question the same day in a conversation listed below another puts it on top
    of "Today" in the posting tab and in Alice's other tab (which moves the entry it shows:
    nothing rendered for it), once each, without a reload. A tab showing search results
    takes no pushed or moved entry into them; clearing the search shows the list as it is
    by then."""
    first, second, rhombus_id = two_tabs_on_an_answered_conversation(browsing, chat_server, "What is a rhombus?")
    kite_id = start_conversation(second)
    send(second, "What is a kite?")
    expect(run_status(second)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    first.goto(f"/threads/{kite_id}/")  # the other tab shows another conversation
    wait_for_socket(first)
    kite_entry = sidebar(first).get_by_role("link", name="What is a kite?", exact=True)
    expect(kite_entry).to_be_visible()
    top = sidebar(first).get_by_role("listitem").first
    expect(top).not_to_have_id(f"conversation-{rhombus_id}")

    second.goto(f"/threads/{rhombus_id}/")
    wait_for_socket(second)
    send(second, "And what is its area?")
    for tab in (second, first):
        expect(sidebar(tab).get_by_role("listitem").first).to_have_id(f"conversation-{rhombus_id}")
        expect(sidebar(tab).locator(f"#conversation-{rhombus_id}")).to_have_count(1)
    expect(first.locator("[data-moved-conversations]")).to_have_count(0)  # the marker goes
    expect(run_status(second)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    screenshots(first, "sidebar-moved-from-another-tab")

    search = sidebar(first).get_by_role("searchbox", name="Search conversations")
    search.fill("kite")
    expect(sidebar(first).get_by_role("link", name="What is a rhombus?", exact=True)).to_have_count(0)
    expect(kite_entry).to_be_visible()
    new_id = start_conversation(second)
    send(second, "Is 7 prime?")
    expect(run_status(second)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    second.goto(f"/threads/{rhombus_id}/")
    wait_for_socket(second)
    send(second, "And its perimeter?")
    expect(run_status(second)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    expect(sidebar(first).locator(f"#conversation-{new_id}")).to_have_count(0)
    expect(sidebar(first).locator(f"#conversation-{rhombus_id}")).to_have_count(0)
    screenshots(first, "sidebar-searching-while-another-tab-posts")
    search.fill("")
    expect(sidebar(first).get_by_role("listitem").first).to_have_id(f"conversation-{rhombus_id}")
    expect(sidebar(first).get_by_role("listitem").nth(1)).to_have_id(f"conversation-{new_id}")
    assert not [line for line in browsing.console if "oobError" in line or line.startswith("[error]")]


LONG_DISPLAY = r"$$\sum_{k=1}^{n} \frac{k^2 + 3k + 2}{(k+1)(k+2)(k+3)} + \int_0^1 \frac{x^4 (1-x)^4}{1+x^2} \, dx = \frac{22}{7} - \pi$$"
LONG_INLINE = r"$\frac{a_1 + a_2 + a_3 + a_4 + a_5 + a_6 + a_7 + a_8 + a_9 + a_{10} + a_{11} + a_{12}}{b}$"


SHORT_DISPLAY = r"$$x^2 + 1$$"
SHADOWS = "(el) => [getComputedStyle(el).boxShadow, getComputedStyle(el).backgroundImage]"


def no_shadow_on_formulas_that_fit(page: Page) -> int:
    """Every formula box of the page that has nothing to scroll shows no edge shadow (a
    hairline at its left edge was one); returns how many there are."""
    fitting = page.evaluate(
        """() => Array.from(document.querySelectorAll('.katex-display, .math-inline--wide'))
        .filter((el) => el.scrollWidth <= el.clientWidth)
        .map((el) => [getComputedStyle(el).boxShadow, getComputedStyle(el).backgroundImage])"""
    )
    assert all(shadows == ["none", "none"] for shadows in fitting), fitting
    return len(fitting)


def test_a_long_formula_on_a_phone_scrolls_in_its_own_box_with_a_shadow_not_the_page(
    browsing: Browsing, chat_server: ChatServer
):
    """At 390 px a display formula wider than its bubble scrolls inside its box, and an
    inline one wider than its line becomes such a box: each shows a shadow at the edge with
    more to see (phones hide scrollbars), one that fits shows none, and neither the page nor
    the message log scrolls sideways."""
    page = browsing.new_page(chat_server, viewport={"width": 390, "height": 844})
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    send(page, f"Simplify\n\n{LONG_DISPLAY}\n\nand {LONG_INLINE} please\n\n{SHORT_DISPLAY}", shows="Simplify")
    bubble = user_messages(page).last
    expect(bubble.locator(".katex-display")).to_have_count(2)
    expect(bubble.locator(".math-inline--wide .katex")).to_have_count(1)
    for box in (bubble.locator(".katex-display").first, bubble.locator(".math-inline--wide")):
        sizes = box.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
        assert sizes[0] > sizes[1], f"the formula fits ({sizes}): the test shows nothing"
        expect(box).to_have_class(re.compile(r"\bmath-more-right\b"))  # more to see on the right only
        expect(box).not_to_have_class(re.compile(r"\bmath-more-left\b"))
        assert box.evaluate(SHADOWS)[0] != "none"
        assert box.evaluate("(el) => { el.scrollLeft = 40; return el.scrollLeft; }") > 0  # it scrolls
        expect(box).to_have_class(re.compile(r"\bmath-more-left\b"))
        box.evaluate("(el) => { el.scrollLeft = el.scrollWidth; }")
        expect(box).not_to_have_class(re.compile(r"\bmath-more-right\b"))
    assert no_shadow_on_formulas_that_fit(page) >= 1  # the short one
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    log = page.locator("#messages").evaluate("(el) => [el.scrollWidth, el.clientWidth]")
    assert log[0] <= log[1], f"the message log scrolls sideways: {log}"
    for box in (bubble.locator(".katex-display").first, bubble.locator(".math-inline--wide")):
        box.evaluate("(el) => { el.scrollLeft = 0; }")
    bubble.scroll_into_view_if_needed()
    screenshots(page, "long-formula")
    expect(bubble.locator(".math-inline--wide")).to_have_count(0)  # at 1440 px it fits its line again
    page.wait_for_function(  # measured again once the window is resized
        "() => Array.from(document.querySelectorAll('.math-more-left, .math-more-right'))"
        ".every((el) => el.scrollWidth > el.clientWidth)"
    )
    assert no_shadow_on_formulas_that_fit(page) >= 1
    page.screenshot(path=str(SCREENSHOT_DIR / "long-formula-desktop-measured.png"), full_page=True)


def test_streaming_math_is_typeset_as_each_formula_completes_without_raw_latex_or_reflow(
    browsing: Browsing, slow_chat_server: ChatServer
):
    page = browsing.new_page(slow_chat_server)
    log_in(page, slow_chat_server, ALICE[0])
    start_conversation(page)
    send(page, "Solve x^2 - 5x + 6 = 0")
    streaming = page.locator('#messages [id^="stream-"]')
    first_formula = streaming.locator(".katex").first
    expect(first_formula).to_be_visible(timeout=RUN_TIMEOUT)  # typeset while the answer still streams
    expect(streaming).to_have_count(1)
    width_while_streaming = first_formula.bounding_box()["width"]
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "streaming-math.png"))
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    final = tutor_messages(page).last.locator(".message__body .katex").first
    expect(final).to_be_visible()
    assert abs(final.bounding_box()["width"] - width_while_streaming) < 1  # the same formula, the same size
    shown = [text for entry in page.evaluate("window.__chatLog") for _id, text in entry["streams"]]
    assert shown and not [text for text in shown if re.search(r"\\[()\[\]]", text)]  # never a raw delimiter


def test_a_conversation_is_renamed_and_deleted_from_the_sidebar_with_a_notice(
    browsing: Browsing, chat_server: ChatServer
):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    send(page, "What is a trapezium?")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    start_conversation(page)
    send(page, "Solve 3x + 11 = 14")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    page.reload()

    # Rename the conversation on screen: its entry, the page's title and a notice change.
    entry = sidebar(page).get_by_role("listitem").filter(has=page.locator("[aria-current=page]"))
    entry.locator("summary", has_text="Rename or delete").click()
    entry.get_by_label("New title").fill("Linear equations")
    entry.get_by_role("button", name="Rename").click()
    expect(
        page.get_by_role("status").filter(has_text="Renamed the conversation to “Linear equations”.")
    ).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Linear equations")
    current = sidebar(page).locator("[aria-current=page]")
    expect(current).to_have_text("Linear equations")
    expect(current).to_be_focused()  # focus stays in the list, on what was renamed

    # Rename another one from the sidebar: this page's title stays.
    other = (
        sidebar(page)
        .get_by_role("listitem")
        .filter(has=page.get_by_role("link", name="What is a trapezium?", exact=True))
        .first
    )
    other.locator("summary", has_text="Rename or delete").click()
    screenshots(page, "sidebar-menu")
    other.get_by_label("New title").fill("Trapezium notes")
    other.get_by_label("New title").press("Enter")
    expect(sidebar(page).get_by_role("link", name="Trapezium notes", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Linear equations")
    assert not [line for line in browsing.console if line.startswith("[error]")]

    # Delete it: a confirmation first, then a clear notice, and it is gone from the list.
    other = (
        sidebar(page).get_by_role("listitem").filter(has=page.get_by_role("link", name="Trapezium notes", exact=True))
    )
    other.locator("summary", has_text="Rename or delete").click()
    other.get_by_role("link", name="Delete… “Trapezium notes”").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete “Trapezium notes”?")
    page.get_by_role("button", name="Delete conversation").click()
    expect(page.get_by_role("status").filter(has_text="Deleted the conversation “Trapezium notes”.")).to_be_visible()
    expect(page.get_by_role("link", name="Trapezium notes", exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="Linear equations").first).to_be_visible()


def test_renaming_works_in_the_phone_drawer(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server, viewport={"width": 390, "height": 844})
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    send(page, "What is a kite?")
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    page.get_by_role("button", name="Conversations", exact=True).click()
    entry = sidebar(page).get_by_role("listitem").filter(has=page.locator("[aria-current=page]"))
    entry.locator("summary", has_text="Rename or delete").click()
    expect(entry.get_by_label("New title")).to_be_in_viewport()
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "sidebar-drawer-menu-phone.png"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    entry.get_by_label("New title").fill("Kites")
    entry.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("status").filter(has_text="Renamed the conversation to “Kites”.")).to_be_attached()
    expect(sidebar(page).locator("[aria-current=page]")).to_have_text("Kites")
    expect(page.locator("#notice")).to_be_empty(timeout=15_000)  # brief: it leaves by itself


SCROLL_POSITION = "() => { const log = document.getElementById('messages'); return [log.scrollTop, log.scrollHeight - log.clientHeight]; }"


def figures_loaded(page: Page) -> None:
    page.wait_for_function("() => Array.from(document.querySelectorAll('#messages img')).every((img) => img.complete)")


@pytest.mark.parametrize("size", [(390, 844), (1440, 900)])
def test_after_a_figure_the_conversation_stays_at_the_bottom_in_every_tab_that_was(
    browsing: Browsing, chat_server: ChatServer, size
):
    viewport = dict(zip(("width", "height"), size, strict=True))
    page = browsing.new_page(chat_server, viewport=viewport)
    log_in(page, chat_server, LAB_USER)
    ensure_lab_tutor(page)
    start_conversation(page)
    page.get_by_label("Assistant", exact=True).select_option(label=LAB_TUTOR)
    following, scrolled_up = (
        browsing.new_page(chat_server, viewport=viewport),
        browsing.new_page(chat_server, viewport=viewport),
    )
    for other in (following, scrolled_up):
        log_in(other, chat_server, LAB_USER)
        other.goto(page.url)
        wait_for_socket(other)
    asked = 0
    while scrolled_up.evaluate(SCROLL_POSITION)[1] < 400:  # enough to scroll back up to read
        send(page, "Solve x^2 - 5x + 6 = 0")
        expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
        asked += 1
        expect(scrolled_up.locator("#messages .message")).to_have_count(2 * asked)
    scrolled_up.bring_to_front()  # a tab the reader scrolls is in front
    scrolled_up.locator("#messages").hover()
    scrolled_up.mouse.wheel(0, -10_000)
    scrolled_up.wait_for_function("() => document.getElementById('messages').scrollTop === 0")
    scrolled_up.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    page.bring_to_front()
    send(page, "plot y = x^3 from -2 to 2")
    for tab in (page, following, scrolled_up):
        expect(run_status(tab)).to_have_text("Completed", timeout=RUN_TIMEOUT)
        expect(tab.locator("#messages .message__image img")).to_have_count(1)
    for tab in (page, following):
        figures_loaded(tab)
        top, bottom = tab.evaluate(SCROLL_POSITION)
        assert bottom > 0 and top >= bottom - 2, f"{size}: {top} of {bottom}"
    # whoever had scrolled up to read is left where they were (their figure, out of sight, waits to load)
    assert scrolled_up.evaluate(SCROLL_POSITION)[0] == 0
    page.screenshot(path=str(SCREENSHOT_DIR / f"plot-at-bottom-{size[0]}.png"))


def test_a_conversation_deleted_in_another_tab_says_so_at_once_and_keeps_the_draft(
    browsing: Browsing, chat_server: ChatServer
):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    thread_id = start_conversation(page)
    message_box(page).fill("Solve <b>&</b> 3x + 11 = 14")
    other = browsing.new_page(chat_server)
    log_in(other, chat_server, ALICE[0])
    other.goto(f"/threads/{thread_id}/delete/")
    other.get_by_role("button", name=re.compile("Delete")).click()
    expect(other).to_have_url(re.compile(r"/threads/$"))

    # Told over the socket, before any Send: nothing offers to send any more, the draft stays.
    deleted = page.locator("#thread-deleted")
    expect(deleted).to_have_role("alert")
    expect(deleted).to_contain_text("This conversation was deleted")
    expect(deleted.get_by_role("link", name="Start a new conversation")).to_have_attribute("href", "/threads/")
    expect(page.get_by_role("button", name="Send")).to_have_count(0)
    expect(message_box(page)).to_have_value("Solve <b>&</b> 3x + 11 = 14")
    message_box(page).press("Enter")
    expect(page.locator("#composer [data-request-problem]")).to_contain_text("Not sent: this conversation was deleted")
    expect(message_box(page)).to_have_value("Solve <b>&</b> 3x + 11 = 14")
    browsing.assert_quiet()
    screenshots(page, "composer-deleted-conversation")


def test_on_a_phone_the_conversation_list_wraps_long_assistant_names_and_keeps_its_menus_in_sight(
    browsing: Browsing, chat_server: ChatServer
):
    name = "Physics <b>&</b> Maths <script>alert(2)</script> for the second year of the evening course, with worked examples"
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    page.goto("/assistants/new/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Instructions").fill("You are a tutor.")
    page.get_by_role("button", name="Save").click()
    start_conversation(page)
    page.get_by_label("Assistant", exact=True).select_option(label=name)
    send(page, "Solve 3x + 11 = 14")  # a short answer: a narrow bubble
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/threads/")
    entry = page.locator(".conversation-item", has_text=name).first
    expect(entry).to_contain_text(name)  # escaped, not markup
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    menu = entry.locator("summary").bounding_box()
    assert menu["x"] + menu["width"] <= 390
    screenshots(page, "conversation-list-long-names")


def test_a_display_formula_in_a_numbered_step_scrolls_in_its_box_and_keeps_its_full_stop(
    browsing: Browsing, chat_server: ChatServer
):
    """Steps as a model writes them: a numbered list whose items end on a display formula and
    a full stop. At 390 px the formula scrolls in its own box inside the item, and the full
    stop stays with it rather than sitting alone on the line below."""
    page = browsing.new_page(chat_server, viewport={"width": 390, "height": 844})
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    steps = f"Steps\n\n1. Sum them:\n   {LONG_DISPLAY}.\n2. Then:\n   $$x^2\\cos(x) + 2x\\sin(x) + x^2\\cos(x) + 2x\\sin(x)$$."
    send(page, steps, shows="Steps")
    bubble = user_messages(page).last
    boxes = bubble.locator("li .katex-display")
    expect(boxes).to_have_count(2)
    for box in (boxes.first, boxes.last):
        sizes = box.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
        assert sizes[0] > sizes[1], f"the formula fits ({sizes}): the test shows nothing"
        expect(box).to_have_class(re.compile(r"\bmath-more-right\b"))
        assert box.evaluate("(el) => { el.scrollLeft = 40; return el.scrollLeft; }") > 0  # it scrolls
        box.evaluate("(el) => { el.scrollLeft = 0; }")
    lone = bubble.locator("li").evaluate_all(
        "(items) => items.flatMap((li) => Array.from(li.childNodes)).filter((n) => n.nodeType === 3 && n.data.trim() === '.').length"
    )
    assert lone == 0, "a full stop sits on a line of its own after a formula"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    bubble.scroll_into_view_if_needed()
    screenshots(page, "formula-in-steps")
