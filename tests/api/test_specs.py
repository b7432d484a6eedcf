"""The declared /v1 request bodies (chat/api/specs.py): each error names its place in the
body as the API's ``param`` (``messages[0].content[0].text``), whatever pydantic's ``loc``
says about union members and tags, and nothing is saved."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile

from chat.api import specs
from chat.api.models import ApiKey
from chat.files import store_file
from chat.functions.schema import DefinitionError, clean_definition
from chat.models import Assistant, Message, Thread

pytestmark = [pytest.mark.django_db]

NOTE = {"type": "function", "function": {"name": "save_note", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture
def key(alice) -> str:
    return ApiKey.issue(alice, "tests")[1]


def post(client, key: str, path: str, body: dict):
    return client.post(path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def error(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]


@pytest.mark.parametrize(
    "body, param, code",
    [
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages[0].content[0].text", "invalid_type"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text", "missing_required_parameter"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0].type", "invalid_value"),
        ({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}, "messages[0].content[0].type", "missing_required_parameter"),
        ({"messages": [{"role": "user", "content": [5]}]}, "messages[0].content[0]", "invalid_type"),
        ({"messages": [{"role": "user", "content": "hi", "colour": 1}]}, "messages[0].colour", "unknown_parameter"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role", "invalid_value"),
        ({"messages": [{"role": "user", "content": "hi", "metadata": {"k": 5}}]}, "messages[0].metadata.k", "invalid_type"),
        ({"tool_resources": {"file_search": {"vector_stores": [{"file_ids": [5]}]}}}, "tool_resources.file_search.vector_stores[0].file_ids[0]", "invalid_type"),
        ({"tool_resources": {"file_search": {"vector_stores": [{"chunking_strategy": {"type": "static", "static": {}}}]}}},
         "tool_resources.file_search.vector_stores[0].chunking_strategy.static.max_chunk_size_tokens", "missing_required_parameter"),
    ],
    ids=["text-type", "text-missing", "part-type-unknown", "part-type-missing", "part-not-object", "unknown-field", "role",
         "metadata-value", "inline-store-file-id", "static-chunking"],
)
def test_an_error_deep_in_a_thread_names_its_place_in_the_body(client, key, body, param, code):
    refused = error(post(client, key, "/v1/threads", body))
    assert (refused["param"], refused["code"]) == (param, code) and param in refused["message"]
    assert not Thread.objects.exists()


@pytest.mark.parametrize(
    "body, message, code",
    [
        ({"temperature": 5}, "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 5 instead.", "decimal_above_max_value"),
        ({"top_p": -0.5}, "Invalid 'top_p': decimal below minimum value. Expected a value >= 0, but got -0.5 instead.", "decimal_below_min_value"),
        (
            {"tools": [{"type": "file_search", "file_search": {"max_num_results": 51}}]},
            "Invalid 'tools[0].file_search.max_num_results': integer above maximum value. Expected a value <= 50, but got 51 instead.",
            "integer_above_max_value",
        ),
    ],
    ids=["decimal-sent-as-integer", "decimal", "integer"],
)
def test_a_number_out_of_bounds_is_worded_by_its_fields_kind(client, key, body, message, code):
    """As the hosted API: temperature is a decimal field, even when 5 is sent."""
    refused = error(post(client, key, "/v1/assistants", {"model": "offline", **body}))
    assert (refused["message"], refused["code"]) == (message, code)
    assert not Assistant.objects.exists()


@pytest.mark.parametrize(
    "tools, param",
    [
        ([{"type": "function", "function": {"name": 5}}], "tools[0].function.name"),
        ([{"type": "function", "function": {}}], "tools[0].function.name"),
        ([{"type": "function", "function": {"name": "café"}}], "tools[0].function.name"),
        ([{"type": "function", "function": {"name": "x" * 65}}], "tools[0].function.name"),
        ([{"type": "function", "function": {"name": "save_note\n"}}], "tools[0].function.name"),
        ([{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}], "tools[0].function.parameters"),
        ([{"type": "function", "function": {"name": "f", "function": 1}}], "tools[0].function.function"),
        ([NOTE, NOTE], "tools[1].function.name"),
        ([{"type": "code_interpreter", "x": 1}], "tools[0].x"),
        ([{"type": "file_search", "file_search": {"max_num_results": 51}}], "tools[0].file_search.max_num_results"),
    ],
    ids=["name-type", "name-missing", "name-not-ascii", "name-too-long", "name-trailing-newline", "parameters-not-object", "field-named-like-tag",
         "duplicate-name", "unknown-field", "max-num-results"],
)
def test_an_error_in_a_tool_names_its_place(client, key, tools, param):
    assert error(post(client, key, "/v1/assistants", {"model": "offline", "tools": tools}))["param"] == param
    assert not Assistant.objects.exists()


@pytest.mark.parametrize(
    "choice, param, code",
    [
        ({"type": "function"}, "tool_choice.function", "missing_required_parameter"),
        ({"type": "function", "function": {"name": 1}}, "tool_choice.function.name", "invalid_type"),
        ({"type": "web"}, "tool_choice.type", "invalid_value"),
        ("sometimes", "tool_choice", "invalid_value"),
    ],
)
def test_a_union_reports_the_member_that_got_furthest(client, key, alice, choice, param, code):
    tutor = Assistant.objects.create(owner=alice, model="offline", tools=[NOTE])
    thread = Thread.objects.create(owner=alice)
    refused = error(post(client, key, f"/v1/threads/{thread.id}/runs", {"assistant_id": tutor.id, "tool_choice": choice}))
    assert (refused["param"], refused["code"]) == (param, code)


def test_truncation_by_last_messages_needs_a_count(client, key, alice):
    tutor = Assistant.objects.create(owner=alice, model="offline")
    thread = Thread.objects.create(owner=alice)
    for strategy, param in [({"type": "last_messages"}, "truncation_strategy.last_messages"),
                            ({"type": "last_messages", "last_messages": 0}, "truncation_strategy.last_messages"),
                            ({"type": "auto", "last_messages": "2"}, "truncation_strategy.last_messages")]:
        body = {"assistant_id": tutor.id, "truncation_strategy": strategy}
        assert error(post(client, key, f"/v1/threads/{thread.id}/runs", body))["param"] == param
    assert not thread.runs.exists()


@pytest.mark.parametrize("content, param", [("", "content"), ([{"type": "text", "text": ""}], "content[0].text"), ([], "content")])
def test_empty_text_content_is_refused(client, key, alice, content, param):
    thread = Thread.objects.create(owner=alice)
    refused = error(post(client, key, f"/v1/threads/{thread.id}/messages", {"role": "user", "content": content}))
    assert refused["param"] == param
    assert not Message.objects.exists()


def test_strict_types_refuse_what_pydantic_would_coerce(client, key):
    for body, param in [({"model": "offline", "temperature": "1"}, "temperature"), ({"model": "offline", "name": 5}, "name"),
                        ({"model": "offline", "temperature": True}, "temperature"), ({"model": 5}, "model")]:
        assert error(post(client, key, "/v1/assistants", body))["param"] == param


def test_another_users_file_is_not_found_where_it_is_named(client, key, bob):
    theirs = store_file(bob, "notes.txt", ContentFile(b"hello"), purpose="assistants")
    body = {"role": "user", "content": [{"type": "image_file", "image_file": {"file_id": theirs.id}}]}
    refused = error(post(client, key, "/v1/threads", {"messages": [body]}))
    assert refused["param"] == "messages[0].content[0].image_file.file_id" and theirs.id in refused["message"]


def test_param_path_keeps_keys_and_indexes_and_drops_union_labels():
    data = {"tool_choice": {"type": "function", "function": {"name": 1}}}
    loc = ("tool_choice", "tagged-union[FunctionChoice,CodeInterpreterChoice]", "function", "function", "name")
    assert specs.param_path(loc, data) == "tool_choice.function.name"
    assert specs.param_path(("messages", 0, "content", 0, "text", "text"), {"messages": [{"content": [{"type": "text", "text": 5}]}]}) == "messages[0].content[0].text"
    assert specs.param_path(("model",), {}, missing=True) == "model"
    # A body whose own field is named like its "type" is no union: nothing is dropped.
    assert specs.param_path(("type",), {"type": "type"}) == "type"


@pytest.mark.parametrize("name", ["save_note\n", "café", "a b", "x" * 65, ""])
def test_the_function_name_rule_is_the_apis_pattern_in_full(name):
    """One rule for the browser, the admin and /v1: ``$`` alone would let a trailing newline in."""
    with pytest.raises(DefinitionError) as caught:
        clean_definition({"name": name})
    assert caught.value.field == "name"
