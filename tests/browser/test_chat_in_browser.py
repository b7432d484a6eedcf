"""The chat as a student uses it: a real Chromium against a real Daphne server.

The server runs in a subprocess with its own SQLite file (see conftest.py); these tests
never touch the ORM in this process, so they carry no django_db mark and pytest-django's
database blocker stays in force (any accidental ORM use here fails loudly). The tests are
plain sync functions: Playwright's sync API refuses to run inside an event loop, and
pytest-asyncio (asyncio_mode=auto) only starts one for ``async def`` tests.
"""

from __future__ import annotations

import itertools
import re

import pytest

from tests.browser.conftest import ALICE, BOB, Browsing, ChatServer, screenshots

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the `browser` fixture (autouse) skips, or fails under CI, first
    Page = expect = None

pytestmark = [pytest.mark.browser]

WALKTHROUGH = "I need to solve the equation `3x + 11 = 14`. Can you help me?"
# No skill of the offline model answers this: it falls back to its (long-ish) self-description.
SMALL_TALK = "Tell me about yourself"
FALLBACK_ENDING = "whoever set up this assistant can connect."
SCREENSHOT = "/tmp/chat.png"
RUN_START_TIMEOUT = 5_000  # ms for a queued run to start
RUN_TIMEOUT = 15_000  # ms for a whole run to finish; the slow server's longest answer takes ~5 s

STREAM = '[id^="stream-"]'


# --- helpers ---------------------------------------------------------------------------


def squash(text: str | None) -> str:
    return " ".join((text or "").split())


def log_in(page: Page, server: ChatServer, username: str) -> None:
    page.goto("/threads/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(server.users[username])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/threads/$"))


def start_conversation(page: Page) -> str:
    """From the conversation list, open a new thread; wait for its live socket. Returns its id."""
    page.goto("/threads/")
    page.get_by_role("button", name="New conversation").click()
    expect(page).to_have_url(re.compile(r"/threads/thread_\w+/$"))
    wait_for_socket(page)
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def wait_for_socket(page: Page) -> None:
    # A function, not a bare expression: Playwright evals a polled expression in the page,
    # which the Content-Security-Policy refuses.
    page.wait_for_function("() => window.__wsOpen > 0")


def run_status(page: Page):
    return page.get_by_role("status").and_(page.locator("#run-status"))


def message_box(page: Page):
    # exact: the message log is labelled "Messages"
    return page.get_by_label("Message", exact=True)


def user_messages(page: Page):
    return page.get_by_role("article", name="You")


def tutor_messages(page: Page):
    return page.get_by_role("article", name="Math Tutor")


def send(page: Page, text: str, *, with_enter: bool = True, shows: str | None = None) -> None:
    """Type a message and send it; wait until it shows in the conversation (``shows``:
    the text it reads as once rendered, by default ``text`` without code marks)."""
    box = message_box(page)
    box.fill(text)
    if with_enter:
        box.press("Enter")
    else:
        page.get_by_role("button", name="Send").click()
    expect(user_messages(page).last).to_contain_text(shows or squash(text.replace("`", "")))
    expect(box).to_have_value("")


def wait_for_run_to_start(page: Page) -> None:
    expect(run_status(page), "the run never started (see the server log below)").not_to_have_text(
        re.compile(r"^\s*(Idle|Queued)\s*$"), timeout=RUN_START_TIMEOUT
    )


def wait_for_streamed_text(page: Page, at_least: int) -> str:
    """Wait until the streaming span holds ``at_least`` characters; return its text."""
    page.wait_for_function(
        "([selector, n]) => { const s = document.querySelector(selector); return s && s.textContent.length >= n; }",
        arg=[STREAM, at_least],
    )
    return page.locator(STREAM).text_content() or ""


def recorded(page: Page) -> list[dict]:
    """Every state the page went through since it loaded (see RECORDER_JS in conftest)."""
    return page.evaluate("window.__chatLog")


def statuses_seen(log: list[dict]) -> list[str]:
    seen: list[str] = []
    for entry in log:
        if entry["status"] and (not seen or seen[-1] != entry["status"]):
            seen.append(entry["status"])
    return seen


def streamed_while_in_progress(log: list[dict]) -> list[str]:
    """The successive texts of the streaming span, as seen while the run was in progress."""
    texts: list[str] = []
    for entry in log:
        if entry["status"] != "In progress":
            continue
        for _span_id, text in entry["streams"]:
            if text and (not texts or texts[-1] != text):
                texts.append(text)
    return texts


def assert_grew_by_appending(texts: list[str]) -> None:
    assert len(texts) >= 2, f"the answer did not stream in: the page only ever showed {texts!r}"
    for before, after in itertools.pairwise(texts):
        assert len(after) > len(before) and after.startswith(before), (
            f"the streamed text did not grow by appending: {before!r} -> {after!r}"
        )


# --- tests -----------------------------------------------------------------------------


def test_a_student_logs_in_asks_the_walkthrough_question_and_watches_the_answer_stream_in(
    browsing: Browsing, chat_server: ChatServer
):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    status = run_status(page)
    expect(status).to_have_text("Idle")

    send(page, WALKTHROUGH, with_enter=True)
    wait_for_run_to_start(page)

    expect(status).to_have_text("Completed", timeout=RUN_TIMEOUT)
    answer = tutor_messages(page)
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text("x = 1")
    expect(page.locator(STREAM)).to_have_count(0)  # the streaming span gave way to the final message
    expect(answer.locator(".cursor")).to_have_count(0)

    # What the status element showed along the way, and how the answer arrived.
    log = recorded(page)
    statuses = statuses_seen(log)
    assert "Failed" not in statuses, f"the run failed: {statuses}"
    assert "In progress" in statuses, f"the status never showed In progress: {statuses}"
    assert statuses[-1] == "Completed", statuses
    assert statuses.index("In progress") < statuses.index("Completed"), statuses
    streamed = streamed_while_in_progress(log)
    assert_grew_by_appending(streamed)

    # The conversation is saved: a reload shows both messages and the finished run.
    page.reload()
    expect(user_messages(page)).to_have_count(1)
    expect(user_messages(page)).to_contain_text("3x + 11 = 14")
    expect(tutor_messages(page)).to_have_count(1)
    expect(tutor_messages(page)).to_contain_text("x = 1")
    expect(run_status(page)).to_have_text("Completed")
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)

    page.evaluate("document.fonts.ready")
    page.screenshot(path=SCREENSHOT, caret="initial")  # "hide" writes style attributes (CSP)


def test_a_question_sent_in_one_tab_shows_once_in_both(browsing: Browsing, chat_server: ChatServer):
    first = browsing.new_page(chat_server)
    log_in(first, chat_server, ALICE[0])
    thread_id = start_conversation(first)
    second = first.context.new_page()
    second.goto(f"/threads/{thread_id}/")
    wait_for_socket(second)
    expect(second.locator("#empty-thread")).to_have_count(1)

    send(first, WALKTHROUGH)
    expect(run_status(first)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    expect(run_status(second)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    for page in (first, second):  # the posting tab got it twice (response, socket): kept once
        expect(user_messages(page)).to_have_count(1)
        expect(user_messages(page)).to_contain_text("3x + 11 = 14")
        expect(tutor_messages(page)).to_have_count(1)
        expect(page.locator("#empty-thread")).to_have_count(0)
    expect(second.locator("#thread-title")).to_have_text(first.locator("#thread-title").inner_text())
    assert user_messages(second).evaluate("m => m.compareDocumentPosition(document.querySelector("
                                          "'article.message--assistant')) & Node.DOCUMENT_POSITION_FOLLOWING")


def test_reloading_mid_run_shows_the_partial_answer_and_keeps_streaming(
    browsing: Browsing, slow_chat_server: ChatServer
):
    page = browsing.new_page(slow_chat_server)
    log_in(page, slow_chat_server, ALICE[0])
    start_conversation(page)
    send(page, SMALL_TALK)
    wait_for_run_to_start(page)

    before_reload = wait_for_streamed_text(page, at_least=30)
    expect(run_status(page)).to_have_text("In progress")

    page.reload()
    # Straight after the reload the page already shows what had streamed so far.
    expect(run_status(page)).to_have_text("In progress")
    partial = page.locator(STREAM).text_content() or ""
    assert squash(partial).startswith(squash(before_reload)), (before_reload, partial)
    assert FALLBACK_ENDING not in partial, "the answer had already finished: nothing was caught mid-run"
    wait_for_socket(page)

    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    answer = tutor_messages(page)
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text(FALLBACK_ENDING)
    final = squash(answer.locator(".message__body").text_content())
    assert final.startswith(squash(partial)), (partial, final)
    assert final.count("I'm the built-in offline model") == 1, f"text repeated after the reload: {final!r}"

    # After the reload it kept streaming live, and only ever appended what was missing.
    log = recorded(page)
    streamed = streamed_while_in_progress(log)
    assert_grew_by_appending(streamed)
    for text in streamed:
        assert final.startswith(squash(text)), f"the page showed text that is not in the answer: {text!r}"


def test_cancel_stops_the_answer_and_keeps_the_partial_text(browsing: Browsing, slow_chat_server: ChatServer):
    page = browsing.new_page(slow_chat_server)
    log_in(page, slow_chat_server, ALICE[0])
    start_conversation(page)
    send(page, SMALL_TALK)
    wait_for_run_to_start(page)

    shown = wait_for_streamed_text(page, at_least=20)
    expect(run_status(page)).to_have_text("In progress")
    page.locator(".run-panel").get_by_role("button", name="Stop").click()

    expect(run_status(page)).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    answer = tutor_messages(page)
    expect(answer).to_have_count(1)
    expect(answer.locator(".message__note")).to_have_text("Stopped: the answer was cancelled before it was finished.")
    kept = squash(answer.locator(".message__body").text_content())
    assert kept.startswith(squash(shown)), f"the partial answer was not kept: saw {shown!r}, kept {kept!r}"
    assert FALLBACK_ENDING not in kept, "the answer was not cut short"

    # It really stopped: nothing more arrives, and the page says so after a reload too.
    page.wait_for_timeout(400)  # ~8 tokens at this server's pace
    assert squash(answer.locator(".message__body").text_content()) == kept
    page.reload()
    expect(run_status(page)).to_have_text("Cancelled")
    expect(tutor_messages(page).locator(".message__note")).to_have_text("Stopped: the answer was cancelled before it was finished.")
    assert squash(tutor_messages(page).locator(".message__body").text_content()) == kept


def test_an_empty_message_shows_an_error_and_sends_nothing(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)

    box = message_box(page)
    box.fill("   \n\t  ")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("alert")).to_have_text("Write a message before sending.")
    expect(message_box(page)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("article")).to_have_count(0)
    expect(run_status(page)).to_have_text("Idle")

    page.reload()
    expect(page.get_by_role("article")).to_have_count(0)
    expect(run_status(page)).to_have_text("Idle")


def test_math_is_rendered_by_katex(browsing: Browsing, chat_server: ChatServer):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    assert page.evaluate("typeof window.katex") == "object", "KaTeX did not load"
    assert page.locator('script[src*="/static/vendor/katex/katex.min.js"]').count() == 1

    send(page, WALKTHROUGH)
    wait_for_run_to_start(page)
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    answer = tutor_messages(page)
    expect(answer).to_contain_text("x = 1")

    if answer.locator(".math-inline, .math-display").count():
        typeset = answer  # the live-swapped answer itself must be typeset
    else:
        send(page, r"What is \(x^2\) when x = 3?", shows="when x = 3?")
        typeset = user_messages(page).last
    expect(typeset.locator(".katex").first).to_be_visible()
    expect(typeset.locator(".math-inline:not(:has(.katex)), .math-display:not(:has(.katex))")).to_have_count(0)
    # KaTeX's stylesheet is applied: the MathML copy (for screen readers) is visually hidden.
    position = typeset.locator(".katex-mathml").first.evaluate("el => getComputedStyle(el).position")
    assert position == "absolute", "katex.min.css is not applied"

    # The server-rendered page (after a reload) is typeset too.
    page.reload()
    expect(page.locator("#messages .katex").first).to_be_visible()
    expect(page.locator(".math-inline:not(:has(.katex)), .math-display:not(:has(.katex))")).to_have_count(0)


# Each inline formula's KaTeX boxes (one per stretch it may break after: "x =", "3") that
# start on different lines: a formula split across lines.
SPLIT_FORMULAS_JS = """() => Array.from(document.querySelectorAll('#messages .math-inline .katex-html'))
  .filter((k) => new Set(Array.from(k.querySelectorAll(':scope > .base'), (b) => Math.round(b.getBoundingClientRect().top))).size > 1)
  .map((k) => k.closest('.math-inline').textContent)"""


def test_short_inline_math_moves_to_the_next_line_whole_and_long_math_does_not_widen_a_phone(
    browsing: Browsing, chat_server: ChatServer
):
    """KaTeX allows a line break after "=" or "+": at a line's end "x = 3" came out as "x ="
    and "3" a line lower. A short formula now moves down whole, like a word; one wider than
    the line still breaks (inside its own box), and the page does not scroll sideways."""
    page = browsing.new_page(chat_server, viewport={"width": 390, "height": 844})
    log_in(page, chat_server, ALICE[0])
    start_conversation(page)
    short = "So we find $x = 3$ and also $y = 12$, then $2x + 3y = 42$ for the last one, and $a + b = c$ holds."
    send(page, short, shows="So we find")
    expect(user_messages(page).last.locator(".katex")).to_have_count(4)
    # The answer's formulas too, once it is whole: a streaming answer's bubble is still growing.
    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    split = {}
    for width in range(300, 440, 10):  # wherever the line ends, no formula is cut
        page.set_viewport_size({"width": width, "height": 844})
        split[width] = page.evaluate(SPLIT_FORMULAS_JS)
    assert not any(split.values()), split

    terms = " + ".join(f"a_{{{i}}}" for i in range(1, 15))
    send(page, f"A long one: ${terms} = \\sum_{{i=1}}^{{14}} a_i$ ends here.", shows="ends here.")
    expect(user_messages(page).last.locator(".katex")).to_have_count(1)
    for width in (300, 390):
        page.set_viewport_size({"width": width, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshots(page, "inline-math")


def test_a_stranger_gets_404_for_someone_elses_thread(browsing: Browsing, chat_server: ChatServer):
    alice = browsing.new_page(chat_server)
    log_in(alice, chat_server, ALICE[0])
    thread_id = start_conversation(alice)
    send(alice, "My secret homework: solve 2x = 8")
    thread_path = f"/threads/{thread_id}/"

    bob = browsing.new_page(chat_server)  # a new context: bob's own cookies
    log_in(bob, chat_server, BOB[0])
    response = bob.goto(thread_path)
    assert response is not None and response.status == 404
    expect(bob.get_by_role("heading", name="Not Found")).to_be_visible()
    assert "secret homework" not in bob.content()
    assert thread_id not in bob.content()

    # Nor is it in bob's list, and its live socket is refused to him (alice's opens).
    bob.goto("/threads/")
    expect(bob.locator(f'a[href="{thread_path}"]')).to_have_count(0)
    probe = """async (path) => await new Promise((resolve) => {
      const got = { opened: false, messages: 0, code: null };
      const ws = new WebSocket(location.origin.replace(/^http/, "ws") + path);
      ws.onopen = () => { got.opened = true; };
      ws.onmessage = () => { got.messages += 1; if (got.opened) ws.close(); };
      ws.onclose = (event) => { got.code = event.code; resolve(got); };
      setTimeout(() => { ws.close(); resolve(got); }, 5000);
    })"""
    ws_path = f"/ws/threads/{thread_id}/"
    assert alice.evaluate(probe, ws_path)["messages"] >= 1, "the socket probe itself does not work"
    refused = bob.evaluate(probe, ws_path)
    assert not refused["opened"] and refused["messages"] == 0, refused
