"""Each rule of the domain, driven through the browser and through /v1, gets the same verdict.

A rule is one action with one input, tried on both surfaces from the same starting state:
the browser's form post (Django's test client, logged in) and the /v1 request (the test
client with an API key; the SDK adds nothing to a verdict on a status code and the rows
left behind). The verdict is whether the surface refused (4xx, never a 5xx) and what the
database holds afterwards. Every rule that refuses has a twin that is accepted, so a
surface that refused everything would fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse

from chat.api.models import ApiKey
from chat.engine.runs import create_run
from chat.files import store_file
from chat.models import Assistant, File, Message, Run, Thread
from chat.retrieval import stores
from chat.retrieval.models import VectorStore, VectorStoreFile
from chat.states import RunStatus
from tests.admin_pages import admin_url

pytestmark = [pytest.mark.django_db]


@dataclass
class World:
    alice: object
    tutor: Assistant
    thread: Thread
    browser: Client  # alice, logged in
    stranger: Client  # bob, logged in
    key: str  # alice's API key
    bob_key: str
    attached: list = field(default_factory=list)  # files a rule's setup saved

    def api(self, method: str, path: str, body=None, *, key: str | None = None):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key or self.key}"}
        data = json.dumps(body) if body is not None else ""
        return getattr(Client(), method)(f"/v1{path}", data=data, content_type="application/json", **headers)


@dataclass
class Rule:
    name: str
    refused: bool  # the verdict both surfaces must give
    browser: Callable[[World], object]
    api: Callable[[World], object]
    outcome: Callable[[World], object]  # what the database holds afterwards, the same on both
    setup: Callable[[World], None] = lambda world: None
    settings: dict | None = None


# --- the actions, one per surface ------------------------------------------------------------


def browser_post(text: str, *, files=(), as_stranger=False):
    def drive(w: World):
        client = w.stranger if as_stranger else w.browser
        data = {"text": text, "assistant": w.tutor.id}
        if files:
            data["files"] = [SimpleUploadedFile(name, body) for name, body in files]
        return client.post(reverse("chat:message_create", args=[w.thread.id]), data)

    return drive


def api_post(text: str, *, as_stranger=False):
    def drive(w: World):
        body = {"role": "user", "content": text}
        return w.api("post", f"/threads/{w.thread.id}/messages", body, key=w.bob_key if as_stranger else None)

    return drive


def api_upload(name: str, body: bytes):
    def drive(w: World):
        upload = SimpleUploadedFile(name, body)
        return Client().post(
            "/v1/files", {"file": upload, "purpose": "assistants"}, HTTP_AUTHORIZATION=f"Bearer {w.key}"
        )

    return drive


def browser_add_files(*names: str, body: bytes = b"Eigenvalues stretch space."):
    """The assistant's Files page: upload files into its own vector store."""

    def drive(w: World):
        uploads = [SimpleUploadedFile(name, body) for name in names]
        return w.browser.post(reverse("retrieval:assistant_files", args=[w.tutor.id]), {"files": uploads})

    return drive


def api_add_files(*names: str, body: bytes = b"Eigenvalues stretch space."):
    """/v1: upload each file, then add them to the assistant's store as a batch (what
    the SDK's ``upload_and_poll`` does)."""

    def drive(w: World):
        ids = []
        for name in names:
            uploaded = api_upload(name, body)(w)
            if uploaded.status_code >= 400:
                return uploaded
            ids.append(uploaded.json()["id"])
        store = stores.assistant_store(w.tutor)
        return w.api("post", f"/vector_stores/{store.id}/file_batches", {"file_ids": ids})

    return drive


def attached_files(count: int):
    """``count`` text files of alice's, saved before either surface acts."""

    def setup(w: World) -> None:
        w.attached = [store_file(w.alice, f"notes-{i}.txt", b"Some notes.") for i in range(count)]

    return setup


def api_post_with_attachments(text: str):
    def drive(w: World):
        attachments = [{"file_id": f.id, "tools": [{"type": "file_search"}]} for f in w.attached]
        return w.api("post", f"/threads/{w.thread.id}/messages", {"role": "user", "content": text, "attachments": attachments})

    return drive


def browser_post_files(text: str, count: int):
    return browser_post(text, files=[(f"notes-{i}.txt", b"Some notes.") for i in range(count)])


def a_file_in_the_assistants_store(w: World) -> None:
    w.attached = [store_file(w.alice, "notes.txt", b"Some notes.")]
    stores.add_files(stores.assistant_store(w.tutor), w.attached)


def browser_remove_file(w: World):
    return w.browser.post(reverse("retrieval:assistant_file_remove", args=[w.tutor.id, w.attached[0].id]))


def api_remove_file(w: World):
    store = stores.assistant_store(w.tutor)
    return w.api("delete", f"/vector_stores/{store.id}/files/{w.attached[0].id}")


def browser_define(name: str, parameters: dict | None, description: str = "A function."):
    def drive(w: World):
        url = reverse("functions:function_list", args=[w.tutor.id])
        data = {"name": name, "description": description, "parameters": json.dumps(parameters) if parameters is not None else ""}
        return w.browser.post(url, data)

    return drive


def api_define(name: str, parameters: dict | None, description: str = "A function."):
    def drive(w: World):
        function = {"name": name, "description": description, "parameters": parameters}
        function = {key: value for key, value in function.items() if value not in (None, "")}
        return w.api("post", f"/assistants/{w.tutor.id}", {"tools": [{"type": "function", "function": function}]})

    return drive


def browser_create_assistant(**fields):
    def drive(w: World):
        data = {"name": "Helper", "model": "offline", "instructions": "", **fields}
        return w.browser.post(reverse("chat:assistant_create"), {k: v for k, v in data.items() if v is not None})

    return drive


def api_create_assistant(**fields):
    def drive(w: World):
        return w.api("post", "/assistants", {"name": "Helper", "model": "offline", **fields})

    return drive


def browser_delete_assistant(w: World):
    return w.browser.post(reverse("chat:assistant_delete", args=[w.tutor.id]))


def api_delete_assistant(w: World):
    return w.api("delete", f"/assistants/{w.tutor.id}")


def browser_delete_thread(w: World, *, as_stranger=False):
    return (w.stranger if as_stranger else w.browser).post(reverse("chat:thread_delete", args=[w.thread.id]))


def api_delete_thread(w: World, *, as_stranger=False):
    return w.api("delete", f"/threads/{w.thread.id}", key=w.bob_key if as_stranger else None)


def the_run(w: World) -> Run:
    return Run.objects.get(thread=w.thread)


def browser_cancel(w: World):
    return w.browser.post(reverse("chat:run_cancel", args=[w.thread.id, the_run(w).id]))


def api_cancel(w: World):
    return w.api("post", f"/threads/{w.thread.id}/runs/{the_run(w).id}/cancel")


def browser_submit_outputs(w: World):
    return w.browser.post(reverse("functions:submit_tool_outputs", args=[w.thread.id, the_run(w).id]), {})


def api_submit_outputs(w: World):
    body = {"tool_outputs": [{"tool_call_id": "call_1", "output": "4"}]}
    return w.api("post", f"/threads/{w.thread.id}/runs/{the_run(w).id}/submit_tool_outputs", body)


# --- what the database holds -----------------------------------------------------------------


def user_messages(w: World) -> list[str]:
    return [m.text for m in Message.objects.filter(thread=w.thread, role=Message.USER)]


def files(w: World) -> int:
    return File.objects.filter(owner=w.alice).count()


def store_entries(w: World) -> list[str]:
    return sorted(VectorStoreFile.objects.filter(vector_store__owner=w.alice).values_list("file__filename", flat=True))


def function_names(w: World) -> list[str]:
    w.tutor.refresh_from_db()
    return [t["function"]["name"] for t in w.tutor.tools if t.get("type") == "function"]


def functions(w: World) -> list[dict]:
    w.tutor.refresh_from_db()
    return [t["function"] for t in w.tutor.tools if t.get("type") == "function"]


def helpers(w: World) -> list[tuple]:
    return list(Assistant.objects.filter(owner=w.alice, name="Helper").values_list("model", "temperature"))


def runs(w: World) -> list[str]:
    return sorted(Run.objects.filter(thread__owner=w.alice).values_list("status", flat=True))


def thread_and_runs(w: World) -> tuple:
    return Thread.objects.filter(pk=w.thread.pk).exists(), runs(w)


def a_queued_run(w: World) -> None:
    create_run(w.thread, w.tutor, start=False)


def a_completed_run(w: World) -> None:
    run = create_run(w.thread, w.tutor, start=False)
    assert run.transition(RunStatus.IN_PROGRESS) and run.transition(RunStatus.COMPLETED)


def a_function(w: World) -> None:
    w.tutor.tools = [{"type": "function", "function": {"name": "add_numbers", "parameters": OBJECT}}]
    w.tutor.save(update_fields=["tools"])


def api_define_again(name: str):
    def drive(w: World):
        tools = [*w.tutor.tools, {"type": "function", "function": {"name": name, "parameters": OBJECT}}]
        return w.api("post", f"/assistants/{w.tutor.id}", {"tools": tools})

    return drive


OBJECT = {"type": "object", "properties": {"x": {"type": "integer"}}}

# Zero-width space, word joiner, zero-width joiner, byte-order mark: nothing anyone can see.
INVISIBLE = "\u200b\u2060 \u200d\ufeff"

RULES = [
    Rule("a message is saved", False, browser_post("What is 2 + 2?"), api_post("What is 2 + 2?"), user_messages),
    Rule("an empty message is refused", True, browser_post(""), api_post(""), user_messages),
    Rule("a blank message is refused", True, browser_post("   \n "), api_post("   \n "), user_messages),
    Rule("a message of only zero-width characters is refused", True, browser_post(INVISIBLE), api_post(INVISIBLE),
         user_messages),
    Rule(
        "no message while a run is active",
        True,
        browser_post("And now?"),
        api_post("And now?"),
        user_messages,
        setup=a_queued_run,
    ),
    Rule(
        "a message at MAX_MESSAGE_CHARS is saved",
        False,
        browser_post("x" * 100),
        api_post("x" * 100),
        user_messages,
        settings={"MAX_MESSAGE_CHARS": 100},
    ),
    Rule(
        "a message over MAX_MESSAGE_CHARS is refused",
        True,
        browser_post("x" * 101),
        api_post("x" * 101),
        user_messages,
        settings={"MAX_MESSAGE_CHARS": 100},
    ),
    Rule("a stranger's thread is not found", True, browser_post("hi", as_stranger=True), api_post("hi", as_stranger=True), user_messages),
    Rule(
        "a file within the size limit is saved",
        False,
        browser_post("Read this", files=[("notes.txt", b"x" * 500)]),
        api_upload("notes.txt", b"x" * 500),
        files,
        settings={"FILE_MAX_BYTES": 1000},
    ),
    Rule(
        "a file over the size limit is refused",
        True,
        browser_post("Read this", files=[("notes.txt", b"x" * 1001)]),
        api_upload("notes.txt", b"x" * 1001),
        files,
        settings={"FILE_MAX_BYTES": 1000},
    ),
    Rule(
        "a searchable file goes into the assistant's store",
        False,
        browser_add_files("notes.md"),
        api_add_files("notes.md"),
        store_entries,
    ),
    Rule(
        "a file of a type that cannot be searched is refused",
        True,
        browser_add_files("notes.md", "tool.exe"),
        api_add_files("notes.md", "tool.exe"),
        store_entries,
    ),
    Rule(
        "a file over the size limit is refused on the Files page",
        True,
        browser_add_files("notes.md", body=b"x" * 1001),
        api_add_files("notes.md", body=b"x" * 1001),
        store_entries,
        settings={"FILE_MAX_BYTES": 1000},
    ),
    Rule(
        "a message with 10 files is saved",
        False,
        browser_post_files("Read these", 10),
        api_post_with_attachments("Read these"),
        user_messages,
        setup=attached_files(10),
    ),
    Rule(
        "a message with 11 files is refused",
        True,
        browser_post_files("Read these", 11),
        api_post_with_attachments("Read these"),
        user_messages,
        setup=attached_files(11),
    ),
    Rule(
        "removing a file takes it out of the store",
        False,
        browser_remove_file,
        api_remove_file,
        store_entries,
        setup=a_file_in_the_assistants_store,
    ),
    Rule("a function is defined", False, browser_define("add_numbers", OBJECT), api_define("add_numbers", OBJECT), function_names),
    Rule(
        "a function with only a name is stored alike",
        False,
        browser_define("ping", None, description=""),
        api_define("ping", None, description=""),
        functions,
    ),
    Rule("a function name outside [a-zA-Z0-9_-] is refused", True, browser_define("café", OBJECT), api_define("café", OBJECT), function_names),
    Rule("a function name over 64 characters is refused", True, browser_define("f" * 65, OBJECT), api_define("f" * 65, OBJECT), function_names),
    Rule(
        "an invalid JSON Schema is refused",
        True,
        browser_define("broken", {"type": "object", "properties": {"x": {"type": "integer", "minimum": "zero"}}}),
        api_define("broken", {"type": "object", "properties": {"x": {"type": "integer", "minimum": "zero"}}}),
        function_names,
    ),
    Rule(
        "parameters that are not an object are refused",
        True,
        browser_define("listy", {"type": "array", "items": {"type": "string"}}),
        api_define("listy", {"type": "array", "items": {"type": "string"}}),
        function_names,
    ),
    Rule(
        "a schema that fetches a remote $ref is refused",
        True,
        browser_define("remote", {"type": "object", "properties": {"x": {"$ref": "https://example.com/s.json"}}}),
        api_define("remote", {"type": "object", "properties": {"x": {"$ref": "https://example.com/s.json"}}}),
        function_names,
    ),
    Rule(
        "two functions with one name are refused",
        True,
        browser_define("add_numbers", OBJECT),
        api_define_again("add_numbers"),
        function_names,
        setup=a_function,
    ),
    Rule("an assistant is created", False, browser_create_assistant(), api_create_assistant(), helpers),
    Rule("an unknown model is refused", True, browser_create_assistant(model="gpt-nonexistent"), api_create_assistant(model="gpt-nonexistent"), helpers),
    Rule("a temperature above 2 is refused", True, browser_create_assistant(temperature=2.5), api_create_assistant(temperature=2.5), helpers),
    Rule("a top_p above 1 is refused", True, browser_create_assistant(top_p=1.5), api_create_assistant(top_p=1.5), helpers),
    Rule(
        "deleting an assistant cancels its runs",
        False,
        browser_delete_assistant,
        api_delete_assistant,
        runs,
        setup=a_queued_run,
    ),
    Rule(
        "deleting a thread takes its runs with it",
        False,
        browser_delete_thread,
        api_delete_thread,
        thread_and_runs,
        setup=a_queued_run,
    ),
    Rule(
        "a stranger cannot delete a thread",
        True,
        lambda w: browser_delete_thread(w, as_stranger=True),
        lambda w: api_delete_thread(w, as_stranger=True),
        thread_and_runs,
        setup=a_queued_run,
    ),
    Rule("a queued run is cancelled", False, browser_cancel, api_cancel, runs, setup=a_queued_run),
    Rule(
        "outputs for a run that is not waiting are refused",
        True,
        browser_submit_outputs,
        api_submit_outputs,
        runs,
        setup=a_completed_run,
    ),
]


@pytest.fixture
def world(alice, bob, tutor, thread, alice_client, bob_client) -> World:
    return World(
        alice=alice,
        tutor=tutor,
        thread=thread,
        browser=alice_client,
        stranger=bob_client,
        key=ApiKey.issue(alice, "tests")[1],
        bob_key=ApiKey.issue(bob, "tests")[1],
    )


def verdict(rule: Rule, surface: str, world: World) -> tuple[bool, object]:
    """Drive the rule through one surface inside a savepoint rolled back afterwards, so
    the other surface starts from the same state."""
    with transaction.atomic():
        rule.setup(world)
        response = getattr(rule, surface)(world)
        assert response.status_code < 500, response.content[:300]
        result = response.status_code >= 400, rule.outcome(world)
        transaction.set_rollback(True)
    # What the rolled-back surface changed in memory (a store id in tool_resources) goes too.
    world.tutor.refresh_from_db()
    world.thread.refresh_from_db()
    return result


@pytest.mark.parametrize("rule", RULES, ids=[r.name for r in RULES])
def test_the_browser_and_the_api_give_the_same_verdict(rule, world, settings):
    for name, value in (rule.settings or {}).items():
        setattr(settings, name, value)
    expected = (rule.refused, EXPECTED[rule.name])
    verdicts = {surface: verdict(rule, surface, world) for surface in ("browser", "api")}
    assert verdicts == {"browser": expected, "api": expected}


# What the database holds after each rule, whichever surface drove it.
EXPECTED = {
    "a message is saved": ["What is 2 + 2?"],
    "an empty message is refused": [],
    "a blank message is refused": [],
    "a message of only zero-width characters is refused": [],
    "no message while a run is active": [],
    "a message at MAX_MESSAGE_CHARS is saved": ["x" * 100],
    "a message over MAX_MESSAGE_CHARS is refused": [],
    "a stranger's thread is not found": [],
    "a file within the size limit is saved": 1,
    "a file over the size limit is refused": 0,
    "a searchable file goes into the assistant's store": ["notes.md"],
    "a file of a type that cannot be searched is refused": [],
    "a file over the size limit is refused on the Files page": [],
    "a message with 10 files is saved": ["Read these"],
    "a message with 11 files is refused": [],
    "removing a file takes it out of the store": [],
    "a function is defined": ["add_numbers"],
    "a function with only a name is stored alike": [{"name": "ping", "description": "", "parameters": {"type": "object", "properties": {}}}],
    "a function name outside [a-zA-Z0-9_-] is refused": [],
    "a function name over 64 characters is refused": [],
    "an invalid JSON Schema is refused": [],
    "parameters that are not an object are refused": [],
    "a schema that fetches a remote $ref is refused": [],
    "an assistant is created": [("offline", None)],
    "an unknown model is refused": [],
    "a temperature above 2 is refused": [],
    "a top_p above 1 is refused": [],
    "deleting an assistant cancels its runs": [RunStatus.CANCELLED],
    "deleting a thread takes its runs with it": (False, []),
    "two functions with one name are refused": ["add_numbers"],
    "a stranger cannot delete a thread": (True, [RunStatus.QUEUED]),
    "a queued run is cancelled": [RunStatus.CANCELLED],
    "outputs for a run that is not waiting are refused": [RunStatus.COMPLETED],
}


def test_the_admin_deletes_an_assistant_through_the_same_service(django_user_model, tutor, thread):
    """The admin is one more surface: deleting an assistant there cancels its runs too."""
    admin = django_user_model.objects.create_superuser("root", password="root-password-1")
    client = Client()
    client.force_login(admin)
    run = create_run(thread, tutor, start=False)
    response = client.post(admin_url("admin:chat_assistant_delete", tutor.id), {"post": "yes"})
    assert response.status_code == 302 and not Assistant.objects.filter(pk=tutor.pk).exists()
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED


ASK = {
    "a message over MAX_MESSAGE_CHARS is refused": "x" * 101,
    "an empty message is refused": "",
    "a blank message is refused": "   \n ",
    "a message of only zero-width characters is refused": INVISIBLE,
    "no message while a run is active": "And now?",
}


@pytest.mark.parametrize("rule", [r for r in RULES if r.name in ASK], ids=lambda r: r.name)
def test_manage_py_ask_refuses_what_the_browser_and_the_api_refuse(rule, world, settings):
    """The third surface, for the message rules it shares (an accepted question runs the
    engine in this process: tests/test_ask_command.py covers that)."""
    for name, value in (rule.settings or {}).items():
        setattr(settings, name, value)
    rule.setup(world)
    with pytest.raises(CommandError):
        call_command("ask", world.tutor.id, ASK[rule.name], thread=world.thread.id)
    assert rule.outcome(world) == EXPECTED[rule.name]


@pytest.mark.parametrize("surface", ["admin", "api"])
def test_deleting_a_vector_store_takes_it_out_of_every_tool_resources(surface, world, django_user_model):
    """The browser's surface for deleting a store is the admin; /v1 has vector_stores delete.
    Both leave no assistant or thread pointing at the deleted store, and keep the others."""
    kept = VectorStore.objects.create(owner=world.alice, name="kept")
    store = stores.assistant_store(world.tutor)
    world.thread.tool_resources = {"file_search": {"vector_store_ids": [store.id, kept.id]}}
    world.thread.save(update_fields=["tool_resources"])
    if surface == "admin":
        client = Client()
        client.force_login(django_user_model.objects.create_superuser("root", password="root-password-1"))
        response = client.post(admin_url("admin:retrieval_vectorstore_delete", store.id), {"post": "yes"})
        assert response.status_code == 302
    else:
        assert world.api("delete", f"/vector_stores/{store.id}").status_code == 200
    world.tutor.refresh_from_db()
    world.thread.refresh_from_db()
    assert not VectorStore.objects.filter(pk=store.id).exists()
    assert stores.store_ids(world.tutor) == []
    assert stores.store_ids(world.thread) == [kept.id]
