"""No query parameter, form value or path id sent to a browser page gives a 5xx: a refusal is a
form error (or a 400/404). A table of hostile values walks every page of chat/urls.py and the
function, retrieval and API-key pages, as alice (the owner)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from chat.api.models import ApiKey
from chat.classes.models import Classroom, Membership
from chat.files import store_file
from chat.functions.models import QuizAttempt
from chat.models import Assistant, Message, Run, RunStep, Thread

pytestmark = [pytest.mark.django_db]

T = "/threads/{thread}"
A = "/assistants/{assistant}"
C = "/classes/{classroom}"
# (method, path, form fields); pages that take no form get their query parameters fuzzed.
PAGES = [
    ("POST", "/signup/", ["username", "password1", "password2"]),
    ("GET", "/threads/", []),
    ("POST", "/threads/new/", ["assistant"]),
    ("GET", f"{T}/", ["before"]),
    ("POST", f"{T}/messages/", ["text", "assistant"]),
    ("POST", f"{T}/rename/", ["title"]),
    ("POST", f"{T}/messages/last/", ["text", "assistant"]),
    ("POST", f"{T}/answer-again/", ["assistant"]),
    ("POST", "/threads/{busy_thread}/runs/{run}/cancel/", []),
    ("POST", "/threads/{busy_thread}/runs/{run}/tool-outputs/", ["c0.text", "c0.__raw__"]),
    ("GET", "/files/{file}/content/", ["inline"]),
    ("GET", "/files/{file}/passage/", ["q"]),
    ("GET", "/assistants/", []),
    ("POST", "/assistants/new/", ["name", "description", "model", "instructions", "temperature", "top_p", "tools"]),
    ("POST", f"{A}/edit/", ["name", "description", "model", "instructions", "temperature", "top_p", "tools"]),
    ("POST", f"{A}/functions/", ["definition", "name", "description", "parameters", "strict"]),
    ("POST", f"{A}/functions/save_note/edit/", ["definition", "name", "description", "parameters", "strict"]),
    ("GET", f"{A}/functions/save_note.json", []),
    ("GET", f"{A}/files/", []),
    ("POST", f"{A}/files/{{file}}/remove/", []),
    ("GET", "/account/api-keys/", []),
    ("POST", "/account/api-keys/new/", ["name"]),
    ("POST", f"{A}/functions/save_note/delete/", []),
    ("POST", f"{T}/delete/", []),
    ("POST", f"{A}/delete/", []),
    ("GET", "/favicon.ico", []),
    ("GET", "/classes/", []),
    ("POST", "/classes/new/", ["name", "description"]),
    ("POST", "/classes/join/", ["code"]),
    ("GET", "/classes/join/", ["code"]),
    ("GET", "/join/{code}/", []),
    ("POST", "/join/{code}/", []),
    ("GET", f"{C}/", ["student", "assistant", "q"]),
    ("POST", f"{C}/edit/", ["name", "description"]),
    ("POST", f"{C}/code/", []),
    ("POST", f"{C}/tutors/", ["username"]),
    ("POST", f"{C}/members/{{membership}}/remove/", []),
    ("POST", f"{C}/publish/", ["assistant"]),
    ("POST", f"{C}/unpublish/", ["assistant"]),
    ("POST", f"{C}/limits/", ["runs_per_day", "tokens_per_day"]),
    ("GET", f"{C}/gradebook/", []),
    ("GET", f"{C}/gradebook.csv", []),
    ("POST", f"{C}/attempts/{{attempt}}/", ["score", "comment"]),
    ("GET", f"{C}/students/{{student}}/", []),
    ("GET", f"{C}/grades/", []),
    ("POST", f"{C}/start/", ["assistant"]),
    ("POST", f"{C}/leave/", []),
    ("POST", f"{C}/archive/", []),
    # A form's URL opened (its failed page reloaded, or reached through the history).
    ("GET", "/threads/new/", []),
    ("GET", f"{T}/messages/", []),
    ("GET", f"{T}/messages/last/", []),
    ("GET", "/classes/new/", []),
    ("GET", f"{C}/start/", []),
    ("GET", f"{C}/leave/", []),
    ("GET", f"{C}/limits/", []),
]

NESTED = '{"type": "object", "properties": {"a": ' * 2_000 + "{}" + "}}" * 2_000
HOSTILE = [
    "", "x", "x" * 100_000, "a\x00b", "²", "٣", "-1", "1e400", "nan", "99999999999999999999999",
    "é", "<script>alert(1)</script>", "{strangers}", "asst_unknown", "[]", "{}", '"\\ud800"',
    '{"name": "f", "parameters": {"type": "object", "maximum": NaN}}', '{"name": "\\ud800"}', NESTED,
    '{"type": "object", "properties": {"a": {"type": "string", "pattern": "["}}}',
]


@pytest.fixture
def world(alice, bob) -> dict:
    function = {"type": "function", "function": {"name": "save_note", "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}}}
    assistant = Assistant.objects.create(owner=alice, model="offline", name="Tutor", tools=[function])
    thread = Thread.objects.create(owner=alice, assistant=assistant)
    Message.objects.create(thread=thread, role="user", content=Message.text_content("hello"))
    busy_thread = Thread.objects.create(owner=alice, assistant=assistant)
    call = {"id": "call_1", "type": "function", "function": {"name": "save_note", "arguments": "{}"}}
    run = Run.objects.create(
        thread=busy_thread, assistant=assistant, model="offline", status="requires_action", tools=assistant.tools,
        required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [call]}},
    )
    RunStep.objects.create(run=run, type="tool_calls", step_details={"type": "tool_calls", "tool_calls": [call]})
    file = store_file(alice, "notes.txt", ContentFile(b"hello"), purpose="assistants")
    ApiKey.issue(alice, "first")
    classroom = Classroom.objects.create(name="Algebra")
    Membership.objects.create(classroom=classroom, user=alice, role=Membership.Role.TUTOR)
    student = Membership.objects.create(classroom=classroom, user=bob, role=Membership.Role.STUDENT)
    attempt = QuizAttempt.objects.create(run=run, thread=busy_thread, user=bob, tool_call_id="call_1", title="Quiz", questions=[], answers=[])
    return {
        "classroom": classroom.id, "membership": student.id, "code": classroom.join_code, "attempt": attempt.id, "student": bob.id,
        "assistant": assistant.id, "thread": thread.id, "busy_thread": busy_thread.id, "run": run.id,
        "file": file.id, "strangers": Assistant.objects.create(owner=bob, model="offline").id,
    }


def visit(client, world: dict, method: str, path: str, data=None):
    response = getattr(client, method.lower())(path.format(**world), data or {})
    assert response.status_code < 500, (method, path, {k: str(v)[:80] for k, v in (data or {}).items()}, response.content[:300])
    return response


def test_the_table_names_every_page():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                if str(p.pattern) not in ("admin/", "accounts/", "v1/"):  # Django's own pages; /v1 has its fuzz
                    yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and str(p.pattern):
                yield "/" + prefix + str(p.pattern)

    routed = {re.sub(r"<(?:str|id|int):[a-z_]+>", "*", p) for p in walk(get_resolver().url_patterns)}
    tabled = {re.sub(r"\{[a-z_]+\}|save_note", "*", p).replace("*.json", "*.json") for _, p, _ in PAGES}
    assert routed - tabled <= {"/account/api-keys/*/revoke/"}  # its id is an integer: the converter refuses the rest


@pytest.mark.parametrize("method, path, fields", PAGES, ids=[f"{m} {p}" for m, p, _ in PAGES])
def test_no_hostile_form_value_or_query_parameter_is_a_server_error(alice_client, world, method, path, fields):
    for name in fields or ["x"]:
        for value in HOSTILE:
            visit(alice_client, world, method, path, {name: value.format(**world) if value == "{strangers}" else value})


HOSTILE_IDS = ["nope", "x" * 5000, "é", "²", "%00", "%ED%A0%80", "%FF", "..", " ", "{strangers}"]


@pytest.mark.parametrize("method, path, fields", PAGES, ids=[f"{m} {p}" for m, p, _ in PAGES])
def test_no_hostile_path_id_is_a_server_error(alice_client, world, method, path, fields):
    for name in sorted(set(re.findall(r"\{([a-z_]+)\}", path))):
        for hostile in HOSTILE_IDS:
            visit(alice_client, {**world, name: hostile.format(**world)}, method, path)


def test_hostile_uploads_to_a_thread_or_an_assistant_are_not_a_server_error(alice_client, world):
    uploads = [("", b""), ("\x00.txt", b"x"), ("x" * 5000 + ".txt", b"x"), ("a.pdf", b"%PDF-1.4 broken"), ("a.docx", b"PK\x03\x04broken")]
    for filename, content in uploads:
        visit(alice_client, world, "POST", f"{T}/messages/", {"text": "hi", "assistant": world["assistant"], "files": ContentFile(content, name=filename or "blank")})
        visit(alice_client, world, "POST", f"{A}/files/", {"files": ContentFile(content, name=filename or "blank")})


def test_a_json_output_with_a_lone_surrogate_is_a_form_error(alice_client, world):
    response = visit(alice_client, world, "POST", "/threads/{busy_thread}/runs/{run}/tool-outputs/", {"c0.__raw__": json.dumps({"text": "\ud800"})})
    assert response.status_code == 400 and "surrogate" in response.content.decode()
    assert Run.objects.get(pk=world["run"]).status == "requires_action"


# Pages anyone may open: signing up, the icon, and a class's join link (it offers to log in).
PUBLIC = {"/signup/", "/favicon.ico", "/join/{code}/"}


@pytest.mark.parametrize("path", sorted({p for m, p, _ in PAGES if p not in PUBLIC}))
def test_every_page_opened_logged_out_goes_to_log_in_and_back_to_it(client, alice_client, world, path):
    """Any URL a signed-in user can open with a GET; a button's URL, which no one can,
    is the 405 page for both."""
    url = path.format(**world)
    response = client.get(url)
    if alice_client.get(url).status_code == 405:
        assert response.status_code == 405
        return
    assert response.status_code == 302, (url, response.status_code)
    login, _, query = response["Location"].partition("?")
    assert (login, parse_qs(query)) == (reverse("login"), {"next": [url]})
