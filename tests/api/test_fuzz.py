"""No input to any /v1 endpoint gives a 5xx: every refusal is a 4xx in the API's error shape.

Three walks over every endpoint of chat/api/urls.py (a test checks that the table below
names them all):

- a table of hostile values (wrong types, lone surrogates, NUL, huge strings and numbers,
  NaN/Infinity, deep nesting, unknown ids) put in each body field, and inside each field's
  structure (a tool's options, a message's content part, an attachment …);
- hypothesis-generated JSON bodies, derandomized so CI sees the same examples every time;
- hostile raw bodies, content types, path ids and query parameters.
"""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.api import urls as api_urls
from chat.api.models import ApiKey, FileBatch
from chat.files import store_file
from chat.models import Assistant, Message, Run, RunStep, Thread
from chat.retrieval.models import VectorStore, VectorStoreFile

pytestmark = [pytest.mark.django_db]

# --- the endpoints ---------------------------------------------------------------------------------

# (method, path, body fields) for every endpoint; {names} are filled from the `world` fixture.
T = "/v1/threads/{thread}"
R = "/v1/threads/{busy_thread}/runs/{run}"
V = "/v1/vector_stores/{store}"
ASSISTANT = ["model", "name", "description", "instructions", "tools", "tool_resources", "metadata", "temperature", "top_p", "response_format", "reasoning_effort"]
RUN = ["assistant_id", "model", "instructions", "additional_instructions", "additional_messages", "tools", "metadata", "temperature", "top_p", "stream", "max_prompt_tokens", "max_completion_tokens", "truncation_strategy", "tool_choice", "parallel_tool_calls", "response_format", "reasoning_effort"]
STORE = ["name", "file_ids", "metadata", "expires_after", "chunking_strategy", "description"]
ENDPOINTS = [
    ("GET", "/v1/assistants", []),
    ("POST", "/v1/assistants", ASSISTANT),
    ("GET", "/v1/assistants/{assistant}", []),
    ("POST", "/v1/assistants/{assistant}", ASSISTANT),
    ("DELETE", "/v1/assistants/{assistant}", []),
    ("POST", "/v1/threads", ["messages", "metadata", "tool_resources"]),
    ("POST", "/v1/threads/runs", [f for f in RUN if f not in ("additional_instructions", "additional_messages", "reasoning_effort")] + ["thread", "tool_resources"]),
    ("GET", T, []),
    ("POST", T, ["metadata", "tool_resources"]),
    ("DELETE", T, []),
    ("GET", f"{T}/messages", []),
    ("POST", f"{T}/messages", ["role", "content", "attachments", "metadata"]),
    ("GET", f"{T}/messages/{{message}}", []),
    ("POST", f"{T}/messages/{{message}}", ["metadata"]),
    ("DELETE", f"{T}/messages/{{message}}", []),
    ("GET", f"{T}/runs", []),
    ("POST", f"{T}/runs", RUN),
    ("GET", R, []),
    ("POST", R, ["metadata"]),
    ("POST", f"{R}/cancel", []),
    ("POST", f"{R}/submit_tool_outputs", ["tool_outputs", "stream"]),
    ("GET", f"{R}/steps", []),
    ("GET", f"{R}/steps/{{step}}", []),
    ("GET", "/v1/files", []),
    ("POST", "/v1/files", []),  # multipart: walked by its own test
    ("GET", "/v1/files/{file}", []),
    ("DELETE", "/v1/files/{file}", []),
    ("GET", "/v1/files/{file}/content", []),
    ("GET", "/v1/models", []),
    ("GET", "/v1/models/offline", []),
    ("GET", "/v1/vector_stores", []),
    ("POST", "/v1/vector_stores", STORE),
    ("GET", V, []),
    ("POST", V, ["name", "metadata", "expires_after"]),
    ("DELETE", V, []),
    ("POST", f"{V}/search", ["query", "max_num_results", "ranking_options", "rewrite_query", "filters"]),
    ("GET", f"{V}/files", []),
    ("POST", f"{V}/files", ["file_id", "attributes", "chunking_strategy"]),
    ("GET", f"{V}/files/{{file}}", []),
    ("POST", f"{V}/files/{{file}}", ["attributes"]),
    ("DELETE", f"{V}/files/{{file}}", []),
    ("POST", f"{V}/file_batches", ["file_ids", "files", "attributes", "chunking_strategy"]),
    ("GET", f"{V}/file_batches/{{batch}}", []),
    ("POST", f"{V}/file_batches/{{batch}}/cancel", []),
    ("GET", f"{V}/file_batches/{{batch}}/files", []),
]
BODY_ENDPOINTS = [e for e in ENDPOINTS if e[2]]
# DELETEs last in each walk that uses them: they remove what the other endpoints need.
WRITES = [e for e in ENDPOINTS if e[0] == "POST" and e[1] != "/v1/files"]


def test_the_table_names_every_endpoint_and_method():
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and hasattr(p.callback, "methods"):
                for method in p.callback.methods:
                    yield method, re.sub(r"<(?:str|id):[a-z_]+>", "*", prefix + str(p.pattern))

    routed = set(walk(api_urls.urlpatterns))
    tabled = {(m, re.sub(r"\{[a-z_]+\}", "*", path.removeprefix("/v1/"))) for m, path, _ in ENDPOINTS}
    tabled = {(m, p.replace("models/offline", "models/*")) for m, p in tabled}
    assert routed == tabled


# --- the world the requests act on ---------------------------------------------------------------


@pytest.fixture
def world(alice, bob) -> dict:
    key = ApiKey.issue(alice, "fuzz")[1]
    function = {"type": "function", "function": {"name": "save_note", "parameters": {"type": "object", "properties": {"text": {"type": "string"}}}}}
    assistant = Assistant.objects.create(owner=alice, model="offline", name="Tutor", tools=[{"type": "file_search"}, function])
    thread = Thread.objects.create(owner=alice, assistant=assistant)
    message = Message.objects.create(thread=thread, role="user", content=Message.text_content("hello"))
    busy_thread = Thread.objects.create(owner=alice, assistant=assistant)
    call = {"id": "call_1", "type": "function", "function": {"name": "save_note", "arguments": "{}"}}
    run = Run.objects.create(
        thread=busy_thread, assistant=assistant, model="offline", status="requires_action", tools=assistant.tools,
        required_action={"type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": [call]}},
    )
    step = RunStep.objects.create(run=run, type="tool_calls", step_details={"type": "tool_calls", "tool_calls": [call]})
    file = store_file(alice, "notes.txt", ContentFile(b"hello"), purpose="assistants")
    store = VectorStore.objects.create(owner=alice, name="notes")
    VectorStoreFile.objects.create(vector_store=store, file=file, status="completed")
    batch = FileBatch.objects.create(vector_store=store, file_ids=[file.id])
    strangers = Assistant.objects.create(owner=bob, model="offline")
    return {
        "key": key, "assistant": assistant.id, "thread": thread.id, "message": message.id, "busy_thread": busy_thread.id,
        "run": run.id, "step": step.id, "file": file.id, "store": store.id, "batch": batch.id, "strangers": strangers.id,
    }


def request(client: Client, world: dict, method: str, path: str, body: bytes | str = b"", content_type: str = "application/json", **extra):
    response = getattr(client, method.lower())(
        path.format(**world), data=body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {world['key']}", **extra
    )
    assert response.status_code < 500, (method, path, str(body)[:300], response.content[:500])
    if response.status_code >= 400:
        error = json.loads(response.content)["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"], (method, path, response.content[:300])
    return response


# --- hostile values --------------------------------------------------------------------------------

DEEP = json.loads("[" * 100 + "]" * 100)  # past the nesting cap, well inside Python's recursion limit
HOSTILE = [
    None, True, 0, -1, 2**31, 2**63, 10**40, 1e308, float("nan"), float("inf"),
    "", "x", "\ud800", "\x00", "²", "x" * 300_000, "asst_unknown", "{strangers}",
    [], [None], [1], [{}], {}, {"a": 1}, {"type": "file_search", "file_search": "x"}, DEEP,
]
# A smaller set for the leaves inside a field's structure (there are many of those). Surrogates,
# NUL and nesting are refused when the body is parsed, wherever they sit: the top level tries them.
LEAVES = [None, True, -1, 2**63, "", "x", [], [1], {}, {"a": 1}]


def messages(h) -> list:
    """A thread's ``messages`` with the hostile value at each place a message can hold it."""
    return [[h], [{"role": h, "content": "x"}], [{"role": "user", "content": h}], *[[{"role": "user", "content": c}] for c in content(h)],
            [{"role": "user", "content": "x", "attachments": a} for a in attachments(h)], [{"role": "user", "content": "x", "metadata": h}]]


def content(h) -> list:
    return [[h], [{"type": h}], [{"type": "text", "text": h}], [{"type": "image_file", "image_file": h}],
            [{"type": "image_file", "image_file": {"file_id": h}}], [{"type": "image_file", "image_file": {"file_id": "{file}", "detail": h}}],
            [{"type": "image_url", "image_url": h}], [{"type": "image_url", "image_url": {"url": h}}],
            [{"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": h}}]]


def attachments(h) -> list:
    return [h, [h], [{"file_id": h}], [{"file_id": "{file}", "tools": h}], [{"file_id": "{file}", "tools": [h]}], [{"file_id": "{file}", "tools": [{"type": h}]}]]


def tools(h) -> list:
    fn = {"name": "save_note"}
    return [h, [h], [{"type": h}], [{"type": "function", "function": h}], [{"type": "function", "function": {"name": h}}],
            [{"type": "function", "function": {**fn, "parameters": h}}], [{"type": "function", "function": {**fn, "description": h}}],
            [{"type": "function", "function": {**fn, "strict": h}}], [{"type": "file_search", "file_search": h}],
            [{"type": "file_search", "file_search": {"max_num_results": h}}], [{"type": "file_search", "file_search": {"ranking_options": h}}],
            [{"type": "file_search", "file_search": {"ranking_options": {"ranker": h, "score_threshold": h}}}], [{"type": "code_interpreter", "x": h}]]


def tool_resources(h) -> list:
    return [{"code_interpreter": h}, {"code_interpreter": {"file_ids": h}}, {"code_interpreter": {"file_ids": [h]}},
            {"file_search": h}, {"file_search": {"vector_store_ids": h}}, {"file_search": {"vector_store_ids": [h]}}, {h if isinstance(h, str) else "x": 1}]


SHAPES = {
    "tools": tools,
    "tool_resources": tool_resources,
    "metadata": lambda h: [{"k": h}, {(h if isinstance(h, str) else "k"): "v"}, {f"k{i}": "v" for i in range(17)}],
    "messages": messages,
    "additional_messages": messages,
    "content": content,
    "attachments": attachments,
    "thread": lambda h: [{"messages": m} for m in messages(h)] + [{"metadata": h}, {"tool_resources": h}, {"x": h}],
    "truncation_strategy": lambda h: [{"type": h}, {"type": "last_messages", "last_messages": h}, {"type": "auto", "x": h}],
    "tool_choice": lambda h: [{"type": h}, {"type": "function", "function": h}, {"type": "function", "function": {"name": h}}, {"type": "file_search", "x": h}],
    "response_format": lambda h: [{"type": h}, {"type": "json_schema", "json_schema": h}],
    "tool_outputs": lambda h: [[h], [{"tool_call_id": h, "output": "x"}], [{"tool_call_id": "call_1", "output": h}]],
    "file_ids": lambda h: [[h], ["{file}", h]],
    "files": lambda h: [[h], [{"file_id": h}]],
    "chunking_strategy": lambda h: [{"type": h}, {"type": "static", "static": h}, {"type": "static", "static": {"max_chunk_size_tokens": h, "chunk_overlap_tokens": h}}],
    "expires_after": lambda h: [{"anchor": h, "days": h}],
    "attributes": lambda h: [{"k": h}],
}
# The smallest body each endpoint accepts, so a hostile field is checked past the required ones.
BASE = {
    "POST /v1/assistants": {"model": "offline"},
    "POST /v1/threads/runs": {"assistant_id": "{assistant}"},
    f"POST {T}/runs": {"assistant_id": "{assistant}"},
    f"POST {T}/messages": {"role": "user", "content": "hi"},
    f"POST {R}/submit_tool_outputs": {"tool_outputs": [{"tool_call_id": "call_1", "output": "ok"}]},
    f"POST {V}/files": {"file_id": "{file}"},
    f"POST {V}/file_batches": {"file_ids": ["{file}"]},
}


def encode(body, world: dict) -> str:
    """JSON text with the world's ids filled in; NaN and Infinity go out as the literals."""
    text = json.dumps(body)
    for name, value in world.items():
        text = text.replace("{%s}" % name, value)
    return text


def bodies(method: str, path: str, fields: list[str]):
    base = BASE.get(f"{method} {path}", {})
    for name in fields:
        for value in HOSTILE:
            yield {**base, name: value}
        if name in SHAPES:
            for leaf in LEAVES:
                for shaped in SHAPES[name](leaf):
                    yield {**base, name: shaped}


@pytest.mark.parametrize("method, path, fields", BODY_ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in BODY_ENDPOINTS])
def test_no_hostile_value_in_any_body_field_is_a_server_error(client, world, method, path, fields):
    for body in bodies(method, path, fields):
        request(client, world, method, path, encode(body, world))


# --- hypothesis: arbitrary JSON bodies -----------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None), max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@pytest.mark.parametrize("method, path, fields", BODY_ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in BODY_ENDPOINTS])
@settings(max_examples=25, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_generated_body_is_a_server_error(client, world, method, path, fields, data):
    names = st.sampled_from(fields) | st.text(max_size=8)
    body = data.draw(st.dictionaries(names, json_values, max_size=4))
    request(client, world, method, path, encode({**BASE.get(f"{method} {path}", {}), **body}, world))


# --- raw bodies, content types, ids and query parameters -----------------------------------------

RAW_BODIES = [
    b"", b" ", b"null", b"[]", b"5", b'"x"', b"{", b"not json", b'{"a": NaN}', b'{"model": Infinity}', b"\xff\xfe\x00",
    b'{"model": "offline", "name": "\xed\xa0\x80"}', b'{"name": 1e400}', b'{"a": 1' + b"0" * 5000 + b"}",
    b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
]
CONTENT_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=x", ""]


@pytest.mark.parametrize("method, path, fields", WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_no_raw_body_or_content_type_is_a_server_error(client, world, method, path, fields):
    for raw in RAW_BODIES:
        request(client, world, method, path, raw)
    for content_type in CONTENT_TYPES:
        for raw in (b"", b"{}", b"a=1&b=\x00", b"--x\r\n\r\n--x--"):
            request(client, world, method, path, raw, content_type)


HOSTILE_IDS = ["nope", "x" * 5000, "é", "²", "%00", "%ED%A0%80", "%FF", "{strangers}", "{run}", "{step}"]


@pytest.mark.parametrize("method, path, fields", ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
def test_no_hostile_path_id_is_a_server_error(client, world, method, path, fields):
    for name in sorted(set(re.findall(r"\{([a-z_]+)\}", path))):
        for hostile in HOSTILE_IDS:
            request(client, {**world, name: hostile.format(**world)}, method, path, {} if method == "GET" else "{}")


QUERY = ["limit", "order", "after", "before", "include[]", "include", "run_id", "filter", "purpose"]
QUERY_VALUES = ["", "0", "-1", "101", "²", "٣", "9" * 5000, "\x00", "x" * 5000, "{message}", "{strangers}"]


@pytest.mark.parametrize("method, path, fields", [e for e in ENDPOINTS if e[0] == "GET"], ids=[f"{m} {p}" for m, p, _ in ENDPOINTS if m == "GET"])
def test_no_hostile_query_parameter_is_a_server_error(client, world, method, path, fields):
    for name in QUERY:
        for value in QUERY_VALUES:
            request(client, world, method, path, {name: value.format(**world) if "{" in value else value}, content_type="")


def test_no_hostile_upload_is_a_server_error(client, world):
    files = [None, ("", b""), ("notes.txt", b"hello"), ("\x00.txt", b"x"), ("x" * 5000, b"x"), ("a.pdf", b"%PDF-1.4 broken")]
    for upload in files:
        for purpose in [None, "", "assistants", "\x00", "x" * 5000, "batch"]:
            for extra in [{}, {"expires_after[seconds]": "²"}, {"unknown": "1"}]:
                data = {**extra}
                if purpose is not None:
                    data["purpose"] = purpose
                if upload is not None:
                    data["file"] = ContentFile(upload[1], name=upload[0] or "blank")
                response = client.post("/v1/files", data, HTTP_AUTHORIZATION=f"Bearer {world['key']}")
                assert response.status_code < 500, (upload, purpose, extra, response.content[:300])
                if response.status_code >= 400:
                    assert set(json.loads(response.content)["error"]) == {"message", "type", "param", "code"}
