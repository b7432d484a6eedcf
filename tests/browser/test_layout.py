"""Every page at a phone's size (390×844) and a desktop's (1440×900), in a real Chromium:
nothing scrolls sideways or is cut off at the side, no console error, no failed request,
text contrast passes WCAG AA in the light and the dark scheme (axe-core), and code and
figures stay inside their message. Screenshots of each page at each size are kept in
test-results/screenshots/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.browser.conftest import BOB, Browsing, ChatServer
from tests.browser.test_chat_in_browser import RUN_TIMEOUT, log_in, message_box, run_status, send, start_conversation
from tests.browser.test_classes_in_browser import SIDES
from tests.browser.test_classes_in_browser import log_in as log_in_to_classes
from tests.fixtures import DISPLAY_QUIZ_JSON, GPT2_PDF
from tests.live_server import manage, server_env

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the `browser` fixture (autouse) skips, or fails under CI, first
    Page = expect = None

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-results" / "screenshots"
SIZES = {"phone": (390, 844), "desktop": (1440, 900)}
# axe-core (vendored from npm for the tests only; never served by the app).
AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
PAPER = GPT2_PDF
LAB_TUTOR = "Lab Tutor"
# The Lab Tutor belongs to bob: alice's pickers keep the Math Tutor first for the other tests.
LAB_USER = BOB[0]
LONG_CODE = "```python\n" + "values = [" + ", ".join(str(n * 7919) for n in range(60)) + "]\nprint(sum(values))\n```"



class PageWatch:
    """What went wrong in a page while a test looked at it: console errors, failed requests."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        self.findings: list[str] = []
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _failed(self, request) -> None:
        # The browser's own favicon fetch, cut short when the test moves to the next page
        # before it ends: no request of the page failed (seen in CI under load).
        if request.url.endswith("/favicon.svg") and "ERR_ABORTED" in (request.failure or ""):
            return
        self.problems.append(f"request failed: {request.method} {request.url} {request.failure}")

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text} {message.location.get('url', '')}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")


def sized_page(browsing: Browsing, server: ChatServer, size: str) -> tuple[Page, PageWatch]:
    page = browsing.new_page(server)
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
    return page, PageWatch(page)


def check_page(page: Page, watch: PageWatch, name: str, size: str) -> None:
    """The page fits its width, reported nothing wrong, and is photographed. Findings are
    collected (and asserted at the end of the test), so one run reports every page."""
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)  # console messages and late requests arrive asynchronously
    SHOTS.mkdir(parents=True, exist_ok=True)
    # caret="initial": hiding the caret writes style attributes the CSP refuses.
    page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=True, caret="initial")
    widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    if widths[0] > widths[1]:
        watch.findings.append(f"{name} at {size} scrolls sideways: {widths[0]} px wide in a {widths[1]} px window")
    # Overflow to the left does not scroll: a control cut off there is lost all the same.
    cut = page.evaluate(
        """() => Array.from(document.querySelectorAll('input, select, textarea, button, a, h1'))
            .filter((el) => el.checkVisibility() && !el.closest('.visually-hidden, .skip-link'))
            .filter((el) => { const r = el.getBoundingClientRect(); return r.left < -1 || r.right > innerWidth + 1; })
            .map((el) => el.outerHTML.slice(0, 80))"""
    )
    watch.findings.extend(f"{name} at {size}: cut off at the side: {html}" for html in cut)
    # Text squeezed into a narrow column breaks words mid-word ("New conversat / ion",
    # "Mat / h Tuto / r"): a word laid out on two lines has two boxes.
    broken = page.evaluate(
        """() => [document.body].flatMap((el) => {
            const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT), words = [];
            for (let node; (node = walker.nextNode()); ) {
              if (!node.parentElement.checkVisibility() || node.parentElement.closest('pre, .katex, .visually-hidden')) continue;
              for (const m of node.data.matchAll(/[^\\s\\/\u2013\u2014-]+/g)) {
                // A part of a long token (a file name, a link) may break; a short word never has to.
                const token = node.data.slice(0, m.index).split(/\\s/).pop() + node.data.slice(m.index).split(/\\s/)[0];
                if (token.length > 20) continue;
                const range = document.createRange();
                range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
                const lines = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
                if (lines.size > 1) words.push(m[0]);
              }
            }
            return words;
          })"""
    )
    watch.findings.extend(f"{name} at {size}: the word {word!r} breaks across lines" for word in broken)
    # A list laid out as a table must not scroll sideways inside its card either; only the
    # gradebook, a students × quizzes grid, may (its first column names the row).
    scrolled = page.evaluate(
        """() => Array.from(document.querySelectorAll('table:not(.gradebook)')).filter((table) => {
            const box = table.parentElement;
            return table.checkVisibility() && box.scrollWidth > box.clientWidth + 1;
          }).map((table) => table.className + ' ' + Math.round(table.scrollWidth) + ' px in ' + table.parentElement.clientWidth)"""
    )
    watch.findings.extend(f"{name} at {size}: a table scrolls sideways inside its box: {table}" for table in scrolled)
    watch.findings.extend(f"{name} at {size}: {problem}" for problem in watch.problems)
    watch.problems.clear()
    for scheme in ("light", "dark"):
        watch.findings.extend(f"{name} at {size}, {scheme}: {problem}" for problem in contrast_problems(page, scheme))
    page.emulate_media(color_scheme="light")


def contrast_problems(page: Page, scheme: str) -> list[str]:
    """axe-core's color-contrast rule (WCAG AA) on the page in a colour scheme. Evaluated
    through the DevTools protocol, which the page's Content-Security-Policy does not govern."""
    page.emulate_media(color_scheme=scheme)
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate("() => {" + AXE + "\n}")
    violations = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['color-contrast'], resultTypes: ['violations']}))
            .violations.flatMap((v) => v.nodes.map((n) => n.target.join(' ') + ': ' + n.any.map((c) => c.message).join('; ')))"""
    )
    return violations


def overflowing_elements(page: Page, selector: str) -> list[str]:
    """Elements matching ``selector`` that stick out of the message they sit in."""
    return page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector)).filter((el) => {
            const box = el.closest('.message, .tool-call, .run-panel');
            if (!box || !el.checkVisibility()) return false;  // not shown (a closed <details>)
            const a = el.getBoundingClientRect(), b = box.getBoundingClientRect();
            return a.right > b.right + 1 || a.left < b.left - 1;
          }).map((el) => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().width))""",
        selector,
    )


def ensure_lab_tutor(page: Page) -> None:
    """An assistant with Code Interpreter and File Search, with the GPT-2 paper in its files."""
    page.goto("/assistants/")
    if page.get_by_role("link", name=f"Edit {LAB_TUTOR}").count():
        return
    page.goto("/assistants/new/")
    page.get_by_label("Name").fill(LAB_TUTOR)
    page.get_by_label("Instructions").fill("You are a personal math tutor. Use code and the files when they help.")
    page.get_by_label("Code Interpreter").check()
    page.get_by_label("File Search").check()
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/assistants/asst_\w+/edit/$"))  # its own page: files and functions next


def open_functions_of_new_assistant(page: Page, name: str, instructions: str) -> None:
    """Create an assistant and open its Functions page."""
    page.goto("/assistants/new/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Instructions").fill(instructions)
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name=f"Functions of {name}").click()


def thread_with_everything(page: Page) -> None:
    """A finished conversation whose answers hold code, a figure, math and a citation."""
    start_conversation(page)
    page.get_by_label("Assistant", exact=True).select_option(label=LAB_TUTOR)
    send(page, "plot y = x^2 from -5 to 5")
    expect(run_status(page)).to_have_text(re.compile("Completed"), timeout=RUN_TIMEOUT)
    send(page, "Solve x^2 - 5x + 6 = 0")
    expect(run_status(page)).to_have_text(re.compile("Completed"), timeout=RUN_TIMEOUT)
    send(page, LONG_CODE, with_enter=False, shows="values = [")
    expect(run_status(page)).to_have_text(re.compile("Completed"), timeout=RUN_TIMEOUT)
    page.get_by_label("Attach files").set_input_files(str(PAPER))
    message_box(page).fill("What are some cool math concepts behind this ML paper pdf? Explain in two sentences.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("article", name=LAB_TUTOR).last.locator("a.cite-marker").first).to_be_visible(timeout=RUN_TIMEOUT)
    expect(run_status(page)).to_have_text(re.compile("Completed"), timeout=RUN_TIMEOUT)


@pytest.mark.parametrize("size", SIZES)
def test_no_page_scrolls_sideways_or_reports_an_error(browsing: Browsing, chat_server: ChatServer, size: str):
    page, watch = sized_page(browsing, chat_server, size)

    page.goto("/accounts/login/")
    check_page(page, watch, "login", size)
    page.goto("/signup/")
    check_page(page, watch, "signup", size)
    page.goto("/accounts/password_reset/")
    check_page(page, watch, "password-reset", size)
    log_in(page, chat_server, LAB_USER)

    ensure_lab_tutor(page)
    page.goto("/assistants/")
    check_page(page, watch, "assistants", size)
    page.get_by_role("link", name=f"Edit {LAB_TUTOR}").first.click()
    check_page(page, watch, "assistant-edit", size)
    page.goto(page.url.replace("/edit/", "/files/"))
    check_page(page, watch, "assistant-files", size)
    page.goto("/assistants/")
    page.get_by_role("link", name=f"Functions of {LAB_TUTOR}").first.click()
    check_page(page, watch, "assistant-functions", size)
    page.goto("/assistants/new/")
    check_page(page, watch, "assistant-new", size)
    start_conversation(page)
    check_page(page, watch, "thread-new", size)

    thread_with_everything(page)
    page.reload()
    expect(page.get_by_role("article", name=LAB_TUTOR).last.locator("a.cite-marker").first).to_be_visible()
    expect(page.locator(".katex").first).to_be_visible()
    figure = page.locator(".message__image img").first
    figure.scroll_into_view_if_needed()  # it loads lazily
    expect(figure).to_be_visible()
    check_page(page, watch, "thread", size)
    marker = page.locator("a.cite-marker").last
    marker.focus()
    tip = page.locator(".cite:focus-within .cite-tip")
    expect(tip).to_be_visible()
    tip_box, message_box_ = tip.bounding_box(), marker.locator("xpath=ancestor::article").bounding_box()
    assert message_box_["x"] <= tip_box["x"] and tip_box["x"] + tip_box["width"] <= message_box_["x"] + message_box_["width"], (tip_box, message_box_)
    page.screenshot(path=str(SHOTS / f"citation-tip-{size}.png"), caret="initial")
    watch.findings.extend(f"thread at {size}: sticks out: {el}" for el in overflowing_elements(page, "pre, img, .katex-display, table"))

    page.get_by_text("Conversation settings").click()
    page.get_by_role("link", name="Delete conversation…").click()
    check_page(page, watch, "thread-delete", size)
    page.goto("/threads/")
    check_page(page, watch, "thread-list", size)
    page.goto("/assistants/")
    page.get_by_role("link", name=f"Delete… {LAB_TUTOR}").first.click()
    check_page(page, watch, "assistant-delete", size)
    page.goto("/account/api-keys/")
    check_page(page, watch, "api-keys", size)
    page.goto("/accounts/password_change/")
    check_page(page, watch, "password-change", size)
    assert not watch.findings, "\n".join(watch.findings)


@pytest.mark.parametrize("size", SIZES)
def test_no_class_page_scrolls_sideways_or_reports_an_error(browsing: Browsing, chat_server: ChatServer, size: str):
    """The class pages of both sides, filled in: a tutor's class with a quiz assistant, a
    student who joined by the invite link and answered a quiz, an override in the gradebook."""
    tutor, watch = sized_page(browsing, chat_server, size)
    log_in_to_classes(tutor, "tutor")
    check_page(tutor, watch, "class-list", size)
    quiz_tutor = f"Layout Quiz Tutor {size}"
    open_functions_of_new_assistant(tutor, quiz_tutor, "Quiz the student when asked.")
    tutor.get_by_label("Paste a whole definition (optional)").fill(DISPLAY_QUIZ_JSON.read_text())
    tutor.get_by_role("button", name="Add function").click()
    expect(tutor.get_by_role("heading", name="display_quiz")).to_be_visible()
    tutor.goto("/classes/")
    tutor.get_by_label("Name").fill(f"Layout {size}")
    tutor.get_by_role("button", name="Create class").click()
    tutor.get_by_label("Assistant to publish").select_option(label=quiz_tutor)
    tutor.get_by_role("button", name="Publish").click()
    class_url = tutor.url
    invite = tutor.locator(".invite-link").first.text_content().strip()

    student, student_watch = sized_page(browsing, chat_server, size)
    log_in_to_classes(student, "student")
    # Logging in is setup: leaving its page before it finished (style sheet, icon) aborts
    # requests that are no page's fault.
    student.wait_for_load_state("networkidle")
    student_watch.problems.clear()
    student.goto(invite)
    check_page(student, student_watch, "join", size)
    student.get_by_role("button", name=re.compile("^Join")).click()
    check_page(student, student_watch, "class-student", size)
    student.get_by_role("button", name=f"Start a conversation with {quiz_tutor}").click()
    student.wait_for_function("() => window.__wsOpen > 0")
    message_box(student).fill("What is the interior angle of a regular pentagon? Make a quiz for me")
    student.get_by_role("button", name="Send").click()
    quiz = student.locator("#pending-action")
    expect(quiz.get_by_role("button", name="Submit answers")).to_be_visible(timeout=RUN_TIMEOUT)
    check_page(student, student_watch, "class-quiz", size)
    quiz.get_by_role("group", name=re.compile(r"interior angle of a regular pentagon")).get_by_role("radio", name="108 degrees").check()
    polygon = re.search(r"interior angles of an? (\w+)", quiz.inner_text()).group(1)
    quiz.get_by_role("textbox", name=re.compile(r"sum of the interior angles")).fill(f"{(SIDES[polygon] - 2) * 180} degrees")
    quiz.get_by_role("button", name="Submit answers").click()
    expect(run_status(student)).to_have_text(re.compile("Completed"), timeout=RUN_TIMEOUT)

    tutor.goto(class_url)
    check_page(tutor, watch, "class-tutor", size)
    tutor.get_by_role("link", name="Gradebook").click()
    check_page(tutor, watch, "gradebook", size)
    tutor.get_by_role("link", name="2/2").click()
    tutor.get_by_label("Score").fill("1.5")
    tutor.get_by_label("Comment").fill("Show the triangle split next time.")
    tutor.get_by_role("button", name="Save grade").click()
    expect(tutor.get_by_text("Grade saved.")).to_be_visible()
    check_page(tutor, watch, "attempt", size)
    tutor.get_by_role("link", name="Back to the gradebook").click()
    tutor.get_by_role("link", name="student", exact=True).click()
    check_page(tutor, watch, "class-student-page", size)

    student.goto(class_url + "grades/")
    check_page(student, student_watch, "grades", size)
    assert not watch.findings + student_watch.findings, "\n".join(watch.findings + student_watch.findings)


def in_server(server: ChatServer, code: str) -> str:
    """Set up (or read) data the pages need straight in the server's database (``manage.py shell``)."""
    return manage(server_env(server.data_dir), "shell", "--no-imports", "-c", code)


def log_in_as(page: Page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("load")


@pytest.mark.parametrize("size", SIZES)
def test_the_conversation_picker_fits_a_phone_with_an_assistant_in_many_classes(browsing: Browsing, chat_server: ChatServer, size: str):
    """One Math Tutor published in four of a student's classes, each with a long name."""
    in_server(
        chat_server,
        """
from django.contrib.auth.models import User
from chat.classes import services
from chat.classes.models import Membership
from chat.models import Assistant
tutor, _ = User.objects.get_or_create(username="picker-tutor")
student, created = User.objects.get_or_create(username="picker-student")
if created:
    student.set_password("picker-password"); student.save()
    tutor_assistant = Assistant.objects.create(owner=tutor, name="Math Tutor", model="offline", instructions="Help.")
    for name in ("Algebra One Period Three", "Geometry Honours Section B", "Statistics Afternoon Group", "Calculus Evening Class"):
        classroom = services.create_classroom(tutor, name)
        Membership.objects.create(classroom=classroom, user=student, role=Membership.Role.STUDENT)
        services.publish(classroom, tutor_assistant)
""",
    )
    page, watch = sized_page(browsing, chat_server, size)
    log_in_as(page, "picker-student", "picker-password")
    page.goto("/threads/")
    check_page(page, watch, "thread-picker-many-classes", size)
    assert not watch.findings, "\n".join(watch.findings)
    # one option per class: the student chooses which class the conversation goes to
    expect(page.get_by_label("Assistant").locator("option", has_text="Math Tutor · ")).to_have_count(4)


LONG_WORD = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 12


@pytest.mark.parametrize("size", SIZES)
def test_a_function_form_wraps_a_long_word_of_its_description(browsing: Browsing, chat_server: ChatServer, size: str):
    """A function whose description holds a word longer than a phone is wide: the form the
    run waits on wraps it instead of widening the conversation."""
    page, watch = sized_page(browsing, chat_server, size)
    log_in(page, chat_server, LAB_USER)
    assistant = f"Note Keeper {size}"
    open_functions_of_new_assistant(page, assistant, "Save notes when asked.")
    definition = {
        "name": "save_note",
        "description": f"Save a note for the student. {LONG_WORD}",
        "parameters": {"type": "object", "properties": {"text": {"type": "string", "description": LONG_WORD}}, "required": ["text"]},
    }
    page.get_by_label("Paste a whole definition (optional)").fill(json.dumps(definition))
    page.get_by_role("button", name="Add function").click()
    expect(page.get_by_role("heading", name="save_note")).to_be_visible()
    start_conversation(page)
    page.get_by_label("Assistant", exact=True).select_option(label=assistant)
    send(page, "Please save a note: triangles have three sides")
    form = page.locator("#pending-action")
    expect(form.get_by_role("button", name="Send")).to_be_visible(timeout=RUN_TIMEOUT)
    check_page(page, watch, "function-form-long-word", size)
    watch.findings.extend(f"function form at {size}: sticks out: {el}" for el in overflowing_elements(page, ".tool-outputs, .tool-outputs p, .tool-outputs legend, .tool-outputs label"))
    assert not watch.findings, "\n".join(watch.findings)


@pytest.mark.parametrize("size", SIZES)
def test_the_api_keys_table_fits_a_phone(browsing: Browsing, chat_server: ChatServer, size: str):
    """A key with a long name, active, in the list: its row fits, Revoke included."""
    page, watch = sized_page(browsing, chat_server, size)
    log_in(page, chat_server, LAB_USER)
    page.goto("/account/api-keys/")
    page.get_by_label("Name (optional)").fill("Statistics coursework notebook on the shared laboratory laptop")
    page.get_by_role("button", name="Create a key").click()
    expect(page.get_by_text("Copy it now")).to_be_visible()
    # .first: the other size's run has made a key for this user too.
    expect(page.get_by_role("button", name=re.compile("^Revoke")).first).to_be_visible()
    check_page(page, watch, "api-keys-long-name", size)
    assert not watch.findings, "\n".join(watch.findings)


@pytest.mark.parametrize("size", SIZES)
def test_an_assistants_files_table_fits_a_phone(browsing: Browsing, chat_server: ChatServer, size: str, tmp_path: Path):
    """A file with a long name in an assistant's files: its row fits, Remove included."""
    paper = tmp_path / f"Lecture notes on linear algebra, eigenvalues and eigenvectors, week three ({size}).txt"
    paper.write_text("An eigenvector of a matrix keeps its direction when the matrix is applied to it.\n")
    page, watch = sized_page(browsing, chat_server, size)
    log_in(page, chat_server, LAB_USER)
    ensure_lab_tutor(page)
    page.get_by_role("link", name=f"Edit {LAB_TUTOR}").first.click()
    page.goto(page.url.replace("/edit/", "/files/"))
    page.get_by_label("Add files").set_input_files(str(paper))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("link", name=paper.name)).to_be_visible()
    expect(page.get_by_role("button", name="Remove").first).to_be_visible()
    check_page(page, watch, "assistant-files-long-name", size)
    assert not watch.findings, "\n".join(watch.findings)


@pytest.mark.parametrize("size", SIZES)
def test_the_functions_page_spaces_its_links_and_puts_strict_beside_its_label(browsing: Browsing, chat_server: ChatServer, size: str):
    page, watch = sized_page(browsing, chat_server, size)
    log_in(page, chat_server, LAB_USER)
    ensure_lab_tutor(page)
    page.goto("/assistants/")
    page.get_by_role("link", name=f"Functions of {LAB_TUTOR}").first.click()
    name = f"look_up_{size}"
    page.get_by_label("Name:").fill(name)
    page.get_by_label("Description:").fill("Look up a word.")
    page.get_by_role("button", name="Add function").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    check_page(page, watch, "assistant-functions-links", size)
    assert not watch.findings, "\n".join(watch.findings)
    edit = page.get_by_role("link", name=f"Edit {name}").bounding_box()
    json_link = page.get_by_role("link", name=f"JSON of {name}").bounding_box()
    remove = page.get_by_role("button", name=f"Remove {name}").bounding_box()
    assert json_link["x"] - (edit["x"] + edit["width"]) >= 8, (edit, json_link)  # not "Edit JSON Remove" run together
    assert remove["x"] - (json_link["x"] + json_link["width"]) >= 8, (json_link, remove)
    strict = page.get_by_label("Strict (the model must follow the schema exactly)")
    label = page.locator("label[for=id_strict]")
    box, label_box = strict.bounding_box(), label.bounding_box()
    # Right before the label, on its (first) line; not on a line of its own.
    assert label_box["y"] <= box["y"] + box["height"] / 2 <= label_box["y"] + label_box["height"], (box, label_box)
    assert 0 <= label_box["x"] - (box["x"] + box["width"]) <= 24, (box, label_box)


@pytest.mark.parametrize("size", SIZES)
def test_an_invite_link_opened_logged_out_names_the_class(browsing: Browsing, chat_server: ChatServer, size: str):
    code = in_server(chat_server, "from chat.classes.models import Classroom; print(Classroom.objects.get(name='Demo class').join_code)").strip()
    page, watch = sized_page(browsing, chat_server, size)
    page.goto(f"/join/{code}/")
    expect(page.get_by_role("heading", name="Join Demo class")).to_be_visible()
    check_page(page, watch, "join-logged-out", size)
    assert not watch.findings, "\n".join(watch.findings)
    page.get_by_role("link", name="Log in to join the class").click()
    page.get_by_label("Username").fill("student")
    page.get_by_label("Password").fill("student-password")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(rf"/join/{code}/$|/classes/[^/]+/$"))


# What people write that the pages show: a link and one unbroken word, longer than any line.
LONG_URL = "https://example.org/" + "/".join(f"section-{n}" for n in range(10)) + "?q=" + "x" * 20
UNBROKEN_WORD = "W" * 1_900  # a grade comment holds 2,000 characters
WRITTEN = f"See {LONG_URL} and {UNBROKEN_WORD} please."

FREE_TEXT_CLASS = f"""
from django.contrib.auth import get_user_model
from chat.classes import gradebook, services
from chat.classes.models import Membership
from chat.functions.models import QuizAttempt
from chat.models import Assistant, Message, Run
User = get_user_model()
tutor, student = User.objects.get(username="tutor"), User.objects.get(username="student")
text = {WRITTEN!r}
classroom = services.create_classroom(tutor, "Class " + {UNBROKEN_WORD[:300]!r}, text)
Membership.objects.create(classroom=classroom, user=student, role=Membership.Role.STUDENT)
assistant = Assistant.objects.create(owner=tutor, name="Helper " + {UNBROKEN_WORD[:200]!r}, description=text, model="offline")
services.publish(classroom, assistant)
thread = services.start_class_thread(student, classroom, assistant)
thread.title = text[:200]
thread.save(update_fields=["title"])
Message.objects.create(thread=thread, role="user", content=Message.text_content(text))
run = Run.objects.create(thread=thread, assistant=assistant, model="offline", status="completed")
attempt = QuizAttempt.objects.create(
    run=run, thread=thread, classroom=classroom, user=student, assistant=assistant, tool_call_id="call_1", title="Quiz " + text[:300],
    questions=[{{"question_text": text, "question_type": "FREE_RESPONSE"}}], answers=[{{"answer": text}}],
)
gradebook.override(classroom, attempt, 1, text, tutor)
print(classroom.pk, attempt.pk, student.pk)
"""


@pytest.mark.parametrize("size", SIZES)
def test_long_links_and_words_people_write_wrap_on_every_page_that_shows_them(
    browsing: Browsing, chat_server: ChatServer, size: str
):
    """A tutor's comment, a class's name and description, an assistant's description, a quiz's
    question and answer, a conversation's title: free text, each with a long link and a word
    longer than any line. Each wraps in its box: no page scrolls sideways."""
    classroom, attempt, student_id = in_server(chat_server, FREE_TEXT_CLASS).split()
    tutor, watch = sized_page(browsing, chat_server, size)
    log_in_to_classes(tutor, "tutor")
    student, student_watch = sized_page(browsing, chat_server, size)
    log_in_to_classes(student, "student")
    pages = [
        (tutor, f"/classes/{classroom}/attempts/{attempt}/", "attempt"),
        (tutor, f"/classes/{classroom}/", "class-tutor"),
        (tutor, f"/classes/{classroom}/students/{student_id}/", "class-student-page"),
        (tutor, "/classes/", "class-list"),
        (tutor, f"/classes/{classroom}/gradebook/", "gradebook"),
        (student, f"/classes/{classroom}/grades/", "grades"),
        (student, f"/classes/{classroom}/", "class-student"),
        (student, "/threads/", "conversations"),
    ]
    wide = []
    for page, url, name in pages:
        page.goto(url)
        page.wait_for_load_state("load")
        expect(page.get_by_text(UNBROKEN_WORD[:40], exact=False).first).to_be_attached()
        width, window = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        if width > window:
            wide.append(f"{name}: {width} px wide in a {window} px window")
        else:  # a page thousands of pixels wide is too big to photograph whole
            page.screenshot(path=str(SHOTS / f"free-text-{name}-{size}.png"), full_page=True, caret="initial")
    assert not wide, wide


def test_the_login_fields_line_up_on_a_phone(browsing: Browsing, chat_server: ChatServer):
    page, watch = sized_page(browsing, chat_server, "phone")
    page.goto("/accounts/login/")
    username, password = page.get_by_label("Username").bounding_box(), page.get_by_label("Password").bounding_box()
    assert abs(username["x"] - password["x"]) <= 1 and abs(username["width"] - password["width"]) <= 1, (username, password)
    check_page(page, watch, "login-fields", "phone")
    assert not watch.findings, "\n".join(watch.findings)
