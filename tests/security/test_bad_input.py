"""Issue 9, item 5: each malformed input that used to give a 500 now gets a clear 400 in the
API's error shape (or a form error in the browser), and nothing is saved."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from chat.api.models import ApiKey
from chat.models import Assistant, Message, Thread
from chat.user_input import MAX_JSON_DEPTH

pytestmark = [pytest.mark.django_db]

SURROGATE = '"\\ud800"'  # a JSON string escape for a lone (unpaired) surrogate


@pytest.fixture
def key(alice) -> str:
    return ApiKey.issue(alice, "tests")[1]


def send(client, key: str, method: str, path: str, raw: str | bytes, content_type: str = "application/json"):
    return getattr(client, method.lower())(path, data=raw, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}")


def post(client, key: str, path: str, body: dict):
    return send(client, key, "POST", path, json.dumps(body))


def refused(response, param: str | None = ...) -> dict:
    """The response is a 400 in the API's error shape (naming ``param`` when given)."""
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"]
    if param is not ...:
        assert body["error"]["param"] == param
    return body["error"]


# --- lone surrogates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path_and_body, param",
    [
        (("/v1/assistants", '{"model": "offline", "name": %s}' % SURROGATE), "name"),
        (("/v1/assistants", '{"model": "offline", "instructions": %s}' % SURROGATE), "instructions"),
        (("/v1/assistants", '{"model": "offline", "metadata": {"k": %s}}' % SURROGATE), "metadata.k"),
        (("/v1/assistants", '{"model": "offline", "metadata": {%s: "v"}}' % SURROGATE), "metadata"),
        (("/v1/threads", '{"messages": [{"role": "user", "content": %s}]}' % SURROGATE), "messages[0].content"),
    ],
    ids=["name", "instructions", "metadata-value", "metadata-key", "message-content"],
)
def test_a_lone_surrogate_in_any_string_is_refused(client, key, path_and_body, param):
    path, raw = path_and_body
    refused(send(client, key, "POST", path, raw), param)
    assert not Assistant.objects.exists() and not Thread.objects.exists()


def test_a_lone_surrogate_in_a_message_posted_to_a_thread_is_refused(client, key, thread):
    raw = '{"role": "user", "content": [{"type": "text", "text": "a\\udfffb"}]}'
    refused(send(client, key, "POST", f"/v1/threads/{thread.id}/messages", raw), "content[0].text")
    assert not Message.objects.exists()


def test_a_surrogate_pair_is_ordinary_text(client, key):
    response = send(client, key, "POST", "/v1/assistants", '{"model": "offline", "name": "\\ud83d\\ude00"}')
    assert response.status_code == 200 and response.json()["name"] == "\U0001f600"


# --- deep nesting -------------------------------------------------------------------------------


def deep(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("where", ["assistants", "threads", "runs"])
def test_json_nested_100000_deep_is_refused(client, key, tutor, thread, where):
    path = {"assistants": "/v1/assistants", "threads": "/v1/threads", "runs": f"/v1/threads/{thread.id}/runs"}[where]
    raw = '{"assistant_id": "%s", "model": "offline", "metadata": %s}' % (tutor.id, deep())
    error = refused(send(client, key, "POST", path, raw))
    assert "deep" in error["message"]


def test_nesting_just_past_the_cap_is_refused_and_at_the_cap_parses(client, key):
    # The body object is level 1, so "tools" may hold MAX_JSON_DEPTH - 1 levels of arrays.
    fits = '{"model": "offline", "tools": %s}' % deep(MAX_JSON_DEPTH - 1)
    too_deep = '{"model": "offline", "tools": %s}' % deep(MAX_JSON_DEPTH)
    assert "deep" in refused(send(client, key, "POST", "/v1/assistants", too_deep))["message"]
    assert "deep" not in refused(send(client, key, "POST", "/v1/assistants", fits))["message"]  # a wrong type, later


# --- tool_resources -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resources, param",
    [
        ({"code_interpreter": 5}, "tool_resources.code_interpreter"),
        ({"code_interpreter": [{"a": 1}]}, "tool_resources.code_interpreter"),
        ({"file_search": 5}, "tool_resources.file_search"),
    ],
    ids=["code_interpreter-int", "code_interpreter-list", "file_search-int"],
)
def test_tool_resources_of_the_wrong_type_are_refused(client, key, resources, param):
    refused(post(client, key, "/v1/assistants", {"model": "offline", "tool_resources": resources}), param)
    refused(post(client, key, "/v1/threads", {"tool_resources": resources}), param)


# --- content parts, attachments, tool_choice ----------------------------------------------------


@pytest.mark.parametrize("kind", ["image_file", "image_url"])
def test_an_image_part_given_as_a_string_is_refused(client, key, thread, kind):
    body = {"role": "user", "content": [{"type": kind, kind: "file-abc"}]}
    refused(post(client, key, f"/v1/threads/{thread.id}/messages", body), f"content[0].{kind}")
    assert not Message.objects.exists()


def test_an_attachment_whose_tools_are_not_a_list_is_refused(client, key, thread, alice):
    from django.core.files.base import ContentFile

    from chat.files import store_file

    record = store_file(alice, "notes.txt", ContentFile(b"hello"), purpose="assistants")
    body = {"role": "user", "content": "hi", "attachments": [{"file_id": record.id, "tools": 5}]}
    refused(post(client, key, f"/v1/threads/{thread.id}/messages", body), "attachments[0].tools")
    assert not Message.objects.exists()


def test_a_named_tool_choice_whose_function_is_a_string_is_refused(client, key, thread, tutor):
    body = {"assistant_id": tutor.id, "tool_choice": {"type": "function", "function": "save_note"}}
    refused(post(client, key, f"/v1/threads/{thread.id}/runs", body), "tool_choice.function")
    assert not thread.runs.exists()


# --- file_search options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, param",
    [
        ("x", "tools[0].file_search"),
        ({"max_num_results": "many"}, "tools[0].file_search.max_num_results"),
        ({"max_num_results": 0}, "tools[0].file_search.max_num_results"),
        ({"max_num_results": 51}, "tools[0].file_search.max_num_results"),
        ({"ranking_options": {"score_threshold": 2}}, "tools[0].file_search.ranking_options.score_threshold"),
    ],
    ids=["string", "many", "zero", "fifty-one", "threshold-above-one"],
)
def test_invalid_file_search_options_are_refused_at_create_and_update(client, key, tutor, thread, options, param):
    tools = [{"type": "file_search", "file_search": options}]
    refused(post(client, key, "/v1/assistants", {"model": "offline", "tools": tools}), param)
    refused(post(client, key, f"/v1/assistants/{tutor.id}", {"tools": tools}), param)
    refused(post(client, key, f"/v1/threads/{thread.id}/runs", {"assistant_id": tutor.id, "tools": tools}), param)
    tutor.refresh_from_db()
    assert tutor.tools == [] and not thread.runs.exists()


def test_valid_file_search_options_are_kept(client, key):
    tools = [{"type": "file_search", "file_search": {"max_num_results": 50, "ranking_options": {"ranker": "auto", "score_threshold": 0.5}}}]
    response = post(client, key, "/v1/assistants", {"model": "offline", "tools": tools})
    assert response.status_code == 200 and response.json()["tools"][0]["file_search"]["max_num_results"] == 50


# --- uploads ------------------------------------------------------------------------------------


def test_a_multipart_upload_without_a_boundary_is_a_400_in_the_api_shape(client, key):
    response = client.post(
        "/v1/files", data=b"--x\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nassistants\r\n--x--\r\n",
        content_type="multipart/form-data", HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    refused(response)


# --- the browser --------------------------------------------------------------------------------


@pytest.mark.parametrize("before", ["²", "٣", "9" * 5000, "99999999999999999999999", "-1", " 1", "1_0"])
def test_a_thread_page_with_a_strange_before_cursor_is_not_a_500(alice_client, thread, before):
    response = alice_client.get(reverse("chat:thread", args=[thread.id]), {"before": before})
    assert response.status_code in (200, 400)


def test_the_function_form_refuses_a_deeply_nested_definition(alice_client, tutor):
    url = reverse("functions:function_list", args=[tutor.id])
    nested = '{"type": "object", "properties": {"a": ' * 50_000 + "{}" + "}}" * 50_000
    for data in ({"definition": '{"name": "f", "parameters": %s}' % nested}, {"name": "f", "parameters": nested}):
        response = alice_client.post(url, data)
        assert response.status_code == 400 and "deep" in response.content.decode()
    tutor.refresh_from_db()
    assert tutor.tools == []


def test_an_api_key_name_with_a_nul_character_is_a_form_error(alice_client, alice):
    response = alice_client.post(reverse("apikeys:create"), {"name": "laptop\x00"})
    assert response.status_code == 400 and "Null characters are not allowed" in response.content.decode()
    assert not ApiKey.objects.filter(owner=alice).exists()


# --- NUL characters, which PostgreSQL's text cannot hold (a lookup would be a 500 there) ---------


def test_a_nul_character_in_a_query_parameter_is_refused_before_any_lookup(client, key):
    response = client.get("/v1/assistants", {"after": "asst_\x00"}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert "NUL" in refused(response, "after")["message"]


def test_an_object_id_with_a_nul_character_matches_no_url(client, key, alice_client, thread):
    response = client.get("/v1/threads/thread_%00", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 404 and response.json()["error"]["message"].startswith("Invalid URL")
    assert alice_client.get("/threads/thread_%00/").status_code == 404


@pytest.mark.parametrize("options", ["x", {"max_num_results": "many"}, {"ranking_options": 5}, {"ranking_options": {"score_threshold": "high"}}])
def test_file_search_options_saved_before_validation_do_not_fail_a_run(thread, tutor, settings, options):
    from chat.retrieval.tool import options as search_options

    run = thread.runs.create(assistant=tutor, model="offline", tools=[{"type": "file_search", "file_search": options}])
    assert search_options(run) == (settings.RETRIEVAL_MAX_RESULTS, 0.0)
