"""Function calling as a tutor and a student do it, in a real Chromium against a real Daphne.

The tutor gives an assistant the walkthrough's display_quiz function by pasting its
definition; the student asks for a quiz, answers it in the form that appears live (no
reload), submits, and watches the graded answer stream in.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import ALICE, Browsing, ChatServer, screenshots
from tests.browser.test_chat_in_browser import (
    RUN_TIMEOUT,
    log_in,
    message_box,
    recorded,
    run_status,
    wait_for_socket,
)
from tests.fixtures import DISPLAY_QUIZ_JSON

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the `browser` fixture (autouse) skips, or fails under CI, first
    Page = expect = None

pytestmark = [pytest.mark.browser]

DISPLAY_QUIZ = DISPLAY_QUIZ_JSON.read_text()
SIDES = {"pentagon": 5, "hexagon": 6, "octagon": 8, "decagon": 10}


def ensure_quiz_tutor(page: Page) -> None:
    """Through the UI: a new assistant, then its Functions page, pasting the definition
    (once per server: the tests of this module share it)."""
    page.goto("/assistants/")
    if page.get_by_role("link", name="Functions of Quiz Tutor").count():
        return
    page.goto("/assistants/new/")
    page.get_by_label("Name").fill("Quiz Tutor")
    page.get_by_label("Instructions").fill("You are a personal math tutor. Quiz the student when asked.")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/assistants/asst_\w+/edit/$"))  # its own page: files and functions next
    page.get_by_role("link", name="Functions of Quiz Tutor").click()
    page.get_by_label("Paste a whole definition (optional)").fill(DISPLAY_QUIZ)
    page.get_by_role("button", name="Add function").click()
    expect(page.get_by_role("heading", name="display_quiz")).to_be_visible()


def streamed_texts(page: Page) -> list[str]:
    texts: list[str] = []
    for entry in recorded(page):
        for _span_id, text in entry["streams"]:
            if text and (not texts or texts[-1] != text):
                texts.append(text)
    return texts


def test_a_student_asks_for_a_quiz_answers_it_and_sees_the_graded_answer_stream_in(
    browsing: Browsing, chat_server: ChatServer
):
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    ensure_quiz_tutor(page)

    page.goto("/threads/")
    page.get_by_label("Assistant").select_option(label="Quiz Tutor")
    page.get_by_role("button", name="New conversation").click()
    expect(page).to_have_url(re.compile(r"/threads/thread_\w+/$"))
    wait_for_socket(page)

    message_box(page).fill("What is the interior angle of a regular pentagon? Make a quiz for me")
    message_box(page).press("Enter")

    # The run pauses and the quiz form arrives over the socket, without a reload.
    expect(run_status(page)).to_have_text("Waiting for your answer", timeout=RUN_TIMEOUT)
    quiz = page.locator("#pending-action")
    expect(quiz.get_by_role("heading", name="Geometry quiz: angles of polygons")).to_be_visible()
    choice_group = quiz.get_by_role("group", name=re.compile(r"interior angle of a regular pentagon"))
    expect(choice_group.get_by_role("radio")).to_have_count(4)
    free = quiz.get_by_role("textbox", name=re.compile(r"sum of the interior angles"))
    expect(free).to_be_visible()

    # A reload rebuilds the same form from the database.
    page.reload()
    wait_for_socket(page)
    expect(run_status(page)).to_have_text("Waiting for your answer")
    expect(choice_group.get_by_role("radio")).to_have_count(4)

    # Answer: the student works the questions out, as a student would.
    choice_group.get_by_role("radio", name="108 degrees").check()
    polygon = re.search(r"interior angles of an? (\w+)", quiz.inner_text()).group(1)
    free.fill(f"{(SIDES[polygon] - 2) * 180} degrees, because it splits into triangles")
    page.evaluate("window.__chatLog.length = 0")  # record only what happens after submitting
    quiz.get_by_role("button", name="Submit answers").click()

    expect(run_status(page)).to_have_text("Completed", timeout=RUN_TIMEOUT)
    expect(quiz.get_by_role("radio")).to_have_count(0)  # the form is gone
    grading = page.get_by_role("article", name="Quiz Tutor").last
    expect(grading).to_contain_text("Here is how you did on Geometry quiz")
    expect(grading).to_contain_text("You answered “108 degrees”. Correct!")
    expect(grading).to_contain_text("You got 2 of 2 right.")
    texts = streamed_texts(page)
    assert len(texts) >= 2 and texts[-1].startswith(texts[0]), f"the grading did not stream in: {texts!r}"
    # Pushed live when the grading finished, without a reload: no Answer again for a graded quiz.
    expect(page.locator("#composer-action")).to_contain_text("ask for another quiz")
    expect(page.get_by_role("button", name="Answer again")).to_have_count(0)

    # The answers stay visible as the step's output, and after a reload.
    steps = page.locator("#steps")
    expect(steps).to_contain_text("your answers")
    expect(steps).to_contain_text("108 degrees")
    page.reload()
    expect(page.locator("#steps")).to_contain_text("108 degrees")
    expect(page.get_by_role("article", name="Quiz Tutor").last).to_contain_text("Correct!")
    # The graded quiz is a record: not answered again or edited away (Thread.last_answer_is_record).
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="Answer again")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit last message")).to_have_count(0)
    expect(page.locator("#composer-action")).to_contain_text("ask for another quiz")


def answer_late(route) -> None:
    """Let the request reach the server, and hold its response back a moment: long enough
    for the socket's push of the same change to arrive first."""
    response = route.fetch()
    time.sleep(1.5)
    route.fulfill(response=response)


def _a_quiz_waiting(browsing: Browsing, chat_server: ChatServer):
    """Alice's new conversation with the Quiz Tutor, its quiz shown and waiting for answers."""
    page = browsing.new_page(chat_server)
    log_in(page, chat_server, ALICE[0])
    page.goto("/threads/")
    ensure_quiz_tutor(page)
    page.goto("/threads/")
    page.get_by_label("Assistant").select_option(label="Quiz Tutor")
    page.get_by_role("button", name="New conversation").click()
    wait_for_socket(page)
    message_box(page).fill("Quiz me on equations")
    message_box(page).press("Enter")
    quiz = page.locator("#pending-action")
    expect(quiz.get_by_role("button", name="Submit answers")).to_be_visible(timeout=RUN_TIMEOUT)
    return page, quiz


def test_a_student_can_cancel_a_quiz_instead_of_answering(browsing: Browsing, chat_server: ChatServer):
    page, quiz = _a_quiz_waiting(browsing, chat_server)
    # The answer to the click arrives after the socket has pushed the cancelled quiz in place
    # of the form the button was in: its run panel must still find its places on the page.
    page.route("**/cancel/", answer_late)
    with page.expect_request_finished(lambda request: request.url.endswith("/cancel/")):
        quiz.get_by_role("button", name="Stop instead").click()
    expect(run_status(page)).to_have_text("Cancelled")
    expect(quiz).to_contain_text("You cancelled this quiz")
    expect(quiz.get_by_role("radio").first).to_be_disabled()
    expect(quiz.get_by_role("button", name="Submit answers")).to_have_count(0)
    browsing.assert_quiet()

    # A reload shows the cancelled quiz again, and the pushed run panel finds its places.
    page.reload()
    wait_for_socket(page)
    expect(quiz).to_contain_text("You cancelled this quiz")
    expect(run_status(page)).to_have_text("Cancelled")
    page.wait_for_function("() => window.__wsMessages > 0")  # the socket's snapshot was swapped in
    browsing.assert_quiet()


def test_enter_while_a_quiz_waits_says_why_nothing_was_sent(browsing: Browsing, chat_server: ChatServer):
    page, quiz = _a_quiz_waiting(browsing, chat_server)
    message_box(page).fill("Can I skip this?")
    message_box(page).press("Enter")
    expect(page.locator("#composer").get_by_role("alert")).to_contain_text("answer the quiz above, or cancel it")
    expect(message_box(page)).to_have_value("Can I skip this?")
    screenshots(page, "quiz-enter-explained")


def test_a_waiting_quiz_numbers_its_questions_by_their_text_offers_one_stop_and_its_arguments_fit(
    browsing: Browsing, chat_server: ChatServer
):
    page, quiz = _a_quiz_waiting(browsing, chat_server)
    page.set_viewport_size({"width": 1440, "height": 900})
    # One control stops it, the quiz's own: not also the composer's and the run panel's.
    expect(page.get_by_role("button", name=re.compile(r"^Stop"))).to_have_count(1)
    expect(quiz.get_by_role("button", name="Stop instead")).to_be_visible()
    # Each question's number is written in its question's first line (a list marker beside
    # a fieldset sits at the fieldset's bottom).
    numbers = quiz.locator(".quiz-questions > li").evaluate_all(
        """(items) => items.map((li) => [getComputedStyle(li).listStyleType,
            getComputedStyle(li.querySelector('legend'), '::before').content])"""
    )
    assert numbers and all(style == "none" and "counter(quiz-question)" in content for style, content in numbers), numbers
    # The call's arguments (JSON on one line) wrap in the run panel instead of running out of it.
    steps = page.locator("#steps")
    steps.get_by_text("Arguments").click()
    fits = steps.locator("pre").first.evaluate(
        """(pre) => { const panel = pre.closest('.run-panel').getBoundingClientRect();
            return [pre.scrollWidth <= pre.clientWidth + 1, pre.getBoundingClientRect().right <= panel.right + 1]; }"""
    )
    assert fits == [True, True], fits
    screenshots(page, "quiz-waiting")
