"""Classes in a real browser: a tutor creates a class and publishes an assistant, a
student joins by the invite link and chats, and the tutor watches the conversation live,
read-only. Every class page fits a 390 px phone screen without sideways scrolling.

The seeded server has the demo logins tutor / tutor-password and student / student-password.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tests.browser.conftest import Browsing, ChatServer
from tests.fixtures import DISPLAY_QUIZ_JSON

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the `browser` fixture (autouse) skips, or fails under CI, first
    Page = expect = None

pytestmark = [pytest.mark.browser]

LOGINS = {"tutor": "tutor-password", "student": "student-password"}
SCREENSHOTS = Path("/tmp/classes-screens")
RUN_TIMEOUT = 15_000


def log_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/?next=/classes/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(LOGINS[username])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/classes/$"))


def a_student_joined(tutor: Page, browsing: Browsing, server: ChatServer, name: str, assistant: str, lowercase=False) -> Page:
    """On the tutor's class list: create class ``name``, publish ``assistant`` there, and
    return the page of "student", who joined by its code (typed in lower case if asked)."""
    tutor.get_by_label("Name").fill(name)
    tutor.get_by_role("button", name="Create class").click()
    tutor.get_by_label("Assistant to publish").select_option(label=assistant)
    tutor.get_by_role("button", name="Publish").click()
    code = tutor.locator(".join-code").text_content()
    student = browsing.new_page(server)
    log_in(student, "student")
    student.get_by_label("Join code").fill(code.lower() if lowercase else code)
    student.get_by_role("button", name="Join", exact=True).click()
    return student


def answers(page: Page):
    return page.get_by_role("article", name="Math Tutor")


def send(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    page.get_by_role("button", name="Send").click()
    expect(box).to_have_value("")


def fits_a_phone(page: Page, name: str) -> None:
    """Shoot the page at phone and desktop widths; at 390 px nothing scrolls sideways."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width, height in ((390, 844), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
        if width == 390:
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            wide = page.evaluate(
                "Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > 390)"
                ".slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
            )
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at 390px: {wide}"
    page.set_viewport_size({"width": 1280, "height": 800})


def test_a_student_joins_by_link_and_the_tutor_watches_the_conversation_live(chat_server: ChatServer, browsing: Browsing):
    tutor = browsing.new_page(chat_server)
    log_in(tutor, "tutor")
    fits_a_phone(tutor, "class-list")
    tutor.get_by_label("Name").fill("Physics 101")
    tutor.get_by_label("Description").fill("Forces, motion and a little algebra.")
    tutor.get_by_role("button", name="Create class").click()
    expect(tutor.get_by_role("heading", level=1)).to_have_text("Physics 101")
    tutor.get_by_label("Assistant to publish").select_option(label="Math Tutor")
    tutor.get_by_role("button", name="Publish").click()
    expect(tutor.get_by_role("link", name=re.compile(r"^Unpublish Math Tutor"))).to_be_visible()
    invite = tutor.locator(".invite-link").text_content()
    assert invite and re.search(r"/join/[A-Z2-9]{8}/$", invite)

    student = browsing.new_page(chat_server)
    log_in(student, "student")
    student.goto(invite)
    fits_a_phone(student, "join")
    student.get_by_role("button", name="Join as a student").click()
    expect(student.get_by_role("heading", level=1)).to_contain_text("Physics 101")
    fits_a_phone(student, "class-student")
    student.get_by_role("button", name="Start a conversation with Math Tutor").click()
    expect(student.get_by_role("note")).to_have_text("Tutors of Physics 101 can read this conversation.")
    student.wait_for_function("() => window.__wsOpen > 0")
    send(student, "3x + 11 = 14")
    expect(answers(student)).to_have_count(1, timeout=RUN_TIMEOUT)
    expect(student.locator("#run-status")).to_contain_text("Completed", timeout=RUN_TIMEOUT)

    tutor.reload()
    fits_a_phone(tutor, "class-tutor")
    tutor.get_by_role("link", name="3x + 11 = 14").click()
    expect(tutor.get_by_role("note")).to_contain_text("You are reading student's conversation in Physics 101")
    expect(tutor.get_by_label("Message", exact=True)).to_have_count(0)
    expect(answers(tutor)).to_have_count(1)
    tutor.wait_for_function("() => window.__wsOpen > 0")

    send(student, "2x = 8")
    expect(answers(tutor)).to_have_count(2, timeout=RUN_TIMEOUT)  # pushed over the socket, no reload
    expect(tutor.get_by_role("article", name="student")).to_have_count(2)  # the student's message too
    expect(tutor.get_by_role("article", name="student").last).to_contain_text("2x = 8")
    expect(answers(tutor).last).to_contain_text("4", timeout=RUN_TIMEOUT)
    expect(tutor.locator("#run-status")).to_contain_text("Completed", timeout=RUN_TIMEOUT)
    expect(tutor.get_by_role("button", name="Stop")).to_have_count(0)
    fits_a_phone(tutor, "review")
    fits_a_phone(student, "student-thread")


DISPLAY_QUIZ = DISPLAY_QUIZ_JSON.read_text()
SIDES = {"pentagon": 5, "hexagon": 6, "octagon": 8, "decagon": 10}


def test_a_quiz_answered_in_class_reaches_the_gradebook_where_the_tutor_overrides_it(chat_server: ChatServer, browsing: Browsing):
    tutor = browsing.new_page(chat_server)
    log_in(tutor, "tutor")
    tutor.goto("/assistants/new/")
    tutor.get_by_label("Name").fill("Class Quiz Tutor")
    tutor.get_by_label("Instructions").fill("Quiz the student when asked.")
    tutor.get_by_role("button", name="Save").click()
    tutor.get_by_role("link", name="Functions of Class Quiz Tutor").click()
    tutor.get_by_label("Paste a whole definition (optional)").fill(DISPLAY_QUIZ)
    tutor.get_by_role("button", name="Add function").click()
    expect(tutor.get_by_role("heading", name="display_quiz")).to_be_visible()
    tutor.goto("/classes/")
    student = a_student_joined(tutor, browsing, chat_server, "Geometry 7", "Class Quiz Tutor", lowercase=True)
    student.get_by_role("button", name="Start a conversation with Class Quiz Tutor").click()
    student.wait_for_function("() => window.__wsOpen > 0")
    thread_url = student.url

    tutor.goto(thread_url)  # the tutor watches from the start
    tutor.wait_for_function("() => window.__wsOpen > 0")

    send(student, "What is the interior angle of a regular pentagon? Make a quiz for me")
    quiz = student.locator("#pending-action")
    expect(quiz.get_by_role("button", name="Submit answers")).to_be_visible(timeout=RUN_TIMEOUT)
    watched = tutor.locator("#pending-action")
    expect(watched.get_by_role("heading", name="Geometry quiz: angles of polygons")).to_be_visible(timeout=RUN_TIMEOUT)
    expect(watched.get_by_role("button", name="Submit answers")).to_have_count(0)
    expect(watched.get_by_role("radio").first).to_be_disabled()

    quiz.get_by_role("group", name=re.compile(r"interior angle of a regular pentagon")).get_by_role("radio", name="108 degrees").check()
    polygon = re.search(r"interior angles of an? (\w+)", quiz.inner_text()).group(1)
    quiz.get_by_role("textbox", name=re.compile(r"sum of the interior angles")).fill(f"{(SIDES[polygon] - 2) * 180} degrees")
    quiz.get_by_role("button", name="Submit answers").click()
    expect(student.locator("#run-status")).to_contain_text("Completed", timeout=RUN_TIMEOUT)
    expect(tutor.get_by_role("article", name="Class Quiz Tutor").last).to_contain_text("You got 2 of 2 right.", timeout=RUN_TIMEOUT)

    tutor.goto("/classes/")
    tutor.get_by_role("link", name="Geometry 7").click()
    tutor.get_by_role("link", name="Gradebook").click()
    fits_a_phone(tutor, "gradebook")
    tutor.get_by_role("link", name="2/2").click()
    expect(tutor.get_by_text("The model's score: 2/2")).to_be_visible()
    expect(tutor.get_by_text("You got 2 of 2 right.")).to_be_visible()  # the feedback recorded with the score
    tutor.get_by_label("Score").fill("1.5")
    tutor.get_by_label("Comment").fill("Show the triangle split next time.")
    tutor.get_by_role("button", name="Save grade").click()
    expect(tutor.get_by_text("Grade saved.")).to_be_visible()
    fits_a_phone(tutor, "attempt")
    tutor.get_by_role("link", name="Back to the gradebook").click()
    expect(tutor.get_by_role("link", name="1.5/2")).to_be_visible()
    with tutor.expect_download() as download_info:
        tutor.get_by_role("link", name="Download CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert len(rows) == 1 and rows[0]["quiz"] == "Geometry quiz: angles of polygons"
    assert (rows[0]["model_score"], rows[0]["max_score"], rows[0]["override_score"], rows[0]["score"]) == ("2", "2", "1.5", "1.5")
    assert rows[0]["comment"] == "Show the triangle split next time." and "You got 2 of 2 right." in rows[0]["feedback"]

    # The student's page, from the gradebook: the conversation, the quiz and the usage.
    tutor.get_by_role("link", name="student", exact=True).click()
    expect(tutor.get_by_role("heading", level=1)).to_have_text("student")
    expect(tutor.get_by_role("link", name="Geometry quiz: angles of polygons")).to_be_visible()
    expect(tutor.get_by_role("cell", name="1.5/2*")).to_be_visible()
    fits_a_phone(tutor, "student-page")

    # The student sees their own grade and the tutor's comment.
    student.goto("/classes/")
    student.get_by_role("link", name="Geometry 7").click()
    student.get_by_role("link", name="Your grades").click()
    expect(student.get_by_text("Score: 1.5/2")).to_be_visible()
    expect(student.get_by_text("Show the triangle split next time.")).to_be_visible()
    fits_a_phone(student, "my-grades")


def test_a_conversation_closed_while_open_shows_only_what_still_works(chat_server: ChatServer, browsing: Browsing):
    """The tutor unpublishes while the student's conversation is open: sending closes the
    composer there (no Send, Answer again or Edit last message) with why, what to do, and
    the unsent text. Leaving is asked first, and the conversation then says the student left."""
    tutor = browsing.new_page(chat_server)
    log_in(tutor, "tutor")
    student = a_student_joined(tutor, browsing, chat_server, "Closing 1", "Math Tutor")
    student.get_by_role("button", name="Start a conversation with Math Tutor").click()
    student.wait_for_function("() => window.__wsOpen > 0")
    send(student, "3x + 11 = 14")
    expect(student.locator("#run-status")).to_contain_text("Completed", timeout=RUN_TIMEOUT)
    expect(student.get_by_role("button", name="Answer again")).to_be_visible()

    tutor.get_by_role("link", name=re.compile(r"^Unpublish Math Tutor")).click()  # asks first
    expect(tutor.get_by_role("heading", level=1)).to_have_text("Unpublish “Math Tutor” from “Closing 1”?")
    fits_a_phone(tutor, "unpublish-confirm")
    tutor.get_by_role("button", name="Unpublish Math Tutor").click()
    expect(tutor.locator("#notice")).to_contain_text("Math Tutor is no longer published to Closing 1.")
    expect(tutor.get_by_role("link", name=re.compile(r"^Unpublish Math Tutor"))).to_have_count(0)

    student.get_by_label("Message", exact=True).fill("Is x = 1 right?")
    student.get_by_role("button", name="Send").click()
    composer = student.locator("#composer")
    expect(composer).to_contain_text("took its assistant out of the class")
    expect(composer).to_contain_text("Is x = 1 right?")  # the unsent text, to copy
    for control in ("Send", "Answer again"):
        expect(student.get_by_role("button", name=control)).to_have_count(0)
    expect(student.get_by_role("link", name="Edit last message")).to_have_count(0)
    expect(student.get_by_label("Assistant")).to_have_count(0)
    fits_a_phone(student, "closed-after-unpublish")
    # Opened again: its socket's news of the run (Send, or Stop) has nowhere to show, and is no error.
    student.reload()
    student.wait_for_function("() => window.__wsMessages > 0")
    expect(student.locator("#composer")).to_contain_text("took its assistant out of the class")
    expect(student.get_by_role("button", name="Send")).to_have_count(0)
    assert not [line for line in browsing.console if "oobErrorNoTarget" in line], browsing.console

    thread_url = student.url
    student.get_by_role("link", name="Go to Closing 1").click()
    student.get_by_role("link", name="Leave the class…").click()
    expect(student.get_by_role("heading", level=1)).to_have_text("Leave “Closing 1”?")
    fits_a_phone(student, "leave-confirm")
    student.get_by_role("button", name="Leave the class").click()
    expect(student).to_have_url(re.compile(r"/classes/$"))
    student.goto(thread_url)
    expect(student.get_by_role("note").first).to_have_text(
        "You left Closing 1: its tutors can no longer read this conversation. Your quiz grades stay in its gradebook."
    )
    expect(student.locator("#composer")).to_contain_text("closed because you left the class")
    fits_a_phone(student, "left-thread")
    # Not to the class's page, Not found for them now: to where its code is entered again.
    student.get_by_role("link", name="Join a class with its code").click()
    expect(student).to_have_url(re.compile(r"/classes/#join$"))
    expect(student.locator("#join")).to_be_visible()


def test_removing_a_student_asks_first_and_says_it_was_done(chat_server: ChatServer, browsing: Browsing):
    tutor = browsing.new_page(chat_server)
    log_in(tutor, "tutor")
    a_student_joined(tutor, browsing, chat_server, "Removing 1", "Math Tutor")
    tutor.reload()
    tutor.get_by_role("link", name=re.compile(r"^Remove student")).click()
    expect(tutor.get_by_role("heading", level=1)).to_have_text("Remove student from “Removing 1”?")
    expect(tutor.locator("main")).to_contain_text("marked “(left the class)”")
    fits_a_phone(tutor, "remove-confirm")
    tutor.get_by_role("link", name="Keep them").click()  # nothing happened
    expect(tutor.get_by_role("link", name=re.compile(r"^Remove student"))).to_be_visible()
    tutor.get_by_role("link", name=re.compile(r"^Remove student")).click()
    tutor.get_by_role("button", name="Remove student").click()
    expect(tutor.locator("#notice")).to_contain_text("student was removed from Removing 1.")
    expect(tutor.get_by_role("link", name=re.compile(r"^Remove student"))).to_have_count(0)
