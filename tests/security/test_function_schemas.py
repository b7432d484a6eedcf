"""Replays of the function-schema probes: a remote "$ref" (server-side request forgery and
a frozen server) and a backtracking "pattern" (regular-expression denial of service).

Each remote reference points at a real HTTP listener (tests/conftest.py), so "nothing was fetched"
is observed on the wire, not assumed.
"""

from __future__ import annotations

import asyncio
import json
import signal
from contextlib import contextmanager

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator
from django.urls import reverse

from chat.api.models import ApiKey
from chat.engine import executor
from chat.models import Assistant, Run, RunStep
from chat.services.messages import post_message
from project.asgi import application
from tests.engine.scripted import ScriptedProvider, call_turn, text_turn, use

# 2**45 backtracking steps for Python's re: hours, against the 10 s hang guard below.
BACKTRACKING_INPUT = "a" * 45 + "!"


class Hung(BaseException):
    """Raised by the hang guard; a BaseException so no `except Exception` can swallow it."""


@contextmanager
def hang_guard(seconds: float):
    """Fail instead of hanging. A signal, because a blocked event loop runs no timeout."""

    def expire(signum, frame):
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def remote_schema(url: str) -> dict:
    return {"type": "object", "properties": {"note": {"$ref": url}}, "required": ["note"]}


def save_note(parameters: dict) -> dict:
    return {"name": "save_note", "description": "Save a note", "parameters": parameters}


LOCAL_SCHEMA = {
    "type": "object",
    "$defs": {"note": {"type": "string", "maxLength": 20}},
    "properties": {"note": {"$ref": "#/$defs/note"}},
    "required": ["note"],
}


# --- defining a function with a remote reference is refused on every surface ------------------


@pytest.mark.django_db
def test_the_functions_page_refuses_a_remote_ref_and_fetches_nothing(alice_client, tutor, http_listener):
    url = reverse("functions:function_list", args=[tutor.id])
    response = alice_client.post(url, {"definition": json.dumps(save_note(remote_schema(http_listener.url)))})
    assert response.status_code == 400
    assert "points outside this schema" in str(response.context["form"].errors["definition"])
    tutor.refresh_from_db()
    assert tutor.tools == []
    assert http_listener.requests == []


@pytest.mark.django_db
def test_the_functions_page_refuses_a_relative_file_ref_field_by_field(alice_client, tutor):
    url = reverse("functions:function_list", args=[tutor.id])
    parameters = {"$id": "file:///etc/", "type": "object", "properties": {"p": {"$ref": "passwd"}}}
    response = alice_client.post(url, {"name": "read", "parameters": json.dumps(parameters)})
    assert response.status_code == 400
    assert "points outside this schema" in str(response.context["form"].errors["parameters"])
    tutor.refresh_from_db()
    assert tutor.tools == []


@pytest.mark.django_db
def test_the_admin_refuses_a_remote_ref_and_fetches_nothing(admin_client, alice, http_listener):
    data = {"owner": alice.pk, "name": "Notes", "model": "offline", "tool_resources": "{}", "metadata": "{}", "response_format": "null"}
    tools = [{"type": "function", "function": save_note(remote_schema(http_listener.url))}]
    response = admin_client.post(reverse("admin:chat_assistant_add"), {**data, "function_tools": json.dumps(tools)})
    assert response.status_code == 200
    assert "points outside this schema" in str(response.context["adminform"].form.errors["function_tools"])
    assert not Assistant.objects.filter(name="Notes").exists()
    assert http_listener.requests == []


@pytest.fixture
def alice_key(alice) -> str:
    return ApiKey.issue(alice, "tests")[1]


def call_api(client, path: str, key: str, body: dict):
    return client.post(path, data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.mark.django_db
def test_the_api_refuses_a_remote_ref_on_create_update_and_run_and_fetches_nothing(client, alice_key, tutor, thread, http_listener):
    tools = [{"type": "function", "function": save_note(remote_schema(http_listener.url))}]
    for path, body in [
        ("/v1/assistants", {"model": "offline", "tools": tools}),
        (f"/v1/assistants/{tutor.id}", {"tools": tools}),
        (f"/v1/threads/{thread.id}/runs", {"assistant_id": tutor.id, "tools": tools}),
    ]:
        response = call_api(client, path, alice_key, body)
        assert response.status_code == 400, path
        error = response.json()["error"]
        assert error["param"] == "tools[0].function.parameters" and "points outside this schema" in error["message"]
        assert error["type"] == "invalid_request_error"
    assert Assistant.objects.filter(owner=tutor.owner).count() == 1
    tutor.refresh_from_db()
    assert tutor.tools == [] and not Run.objects.exists()
    assert http_listener.requests == []


@pytest.mark.django_db
def test_the_api_refuses_an_unknown_remote_meta_schema_and_a_remote_dynamic_ref(client, alice_key, http_listener):
    for parameters in (
        {"$schema": http_listener.url, "type": "object"},
        {"type": "object", "properties": {"note": {"$dynamicRef": http_listener.url}}},
    ):
        tools = [{"type": "function", "function": save_note(parameters)}]
        response = call_api(client, "/v1/assistants", alice_key, {"model": "offline", "tools": tools})
        assert response.status_code == 400
        assert response.json()["error"]["param"] == "tools[0].function.parameters"
    assert http_listener.requests == []


# --- a schema stored before the rule still cannot make the server fetch -----------------------


@sync_to_async
def start_run(thread, assistant, definition: dict, text: str = "save it") -> Run:
    # Straight into the database, as a schema saved before these checks existed would be.
    assistant.tools = [{"type": "function", "function": definition}]
    assistant.save()
    return post_message(thread, text, assistant, start=False)[1]


@sync_to_async
def call_output(run: Run) -> str | None:
    step = RunStep.objects.get(run=run, type=RunStep.TOOL_CALLS)
    return step.step_details["tool_calls"][0]["function"]["output"]


@pytest.mark.django_db(transaction=True)
async def test_a_stored_remote_ref_is_never_fetched_when_the_model_calls_the_function(monkeypatch, thread, tutor, http_listener):
    use(monkeypatch, ScriptedProvider(call_turn(("call_1", "save_note", '{"note": "milk"}'))))
    run = await start_run(thread, tutor, save_note(remote_schema(http_listener.url)))
    with hang_guard(10):
        await executor.execute(run.id)
    await sync_to_async(run.refresh_from_db)()
    assert run.status == "requires_action"  # the schema cannot be checked here: the caller decides
    assert http_listener.requests == []


# --- local references keep working, end to end --------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_local_defs_refs_are_accepted_and_checked_end_to_end(monkeypatch, alice_client, thread, tutor):
    url = reverse("functions:function_list", args=[tutor.id])
    response = await sync_to_async(alice_client.post)(url, {"definition": json.dumps(save_note(LOCAL_SCHEMA))})
    assert response.status_code == 302
    await sync_to_async(tutor.refresh_from_db)()
    too_long = json.dumps({"note": "x" * 21})
    use(monkeypatch, ScriptedProvider(
        call_turn(("call_long", "save_note", too_long)),
        call_turn(("call_ok", "save_note", '{"note": "milk"}')),
    ))
    _, run = await sync_to_async(post_message)(thread, "save milk", tutor, start=False)
    await executor.execute(run.id)
    await sync_to_async(run.refresh_from_db)()
    assert run.status == "requires_action"
    assert [c["id"] for c in run.required_action["submit_tool_outputs"]["tool_calls"]] == ["call_ok"]
    long_step = await sync_to_async(RunStep.objects.filter(run=run).order_by("created_at").first)()
    output = json.loads(long_step.step_details["tool_calls"][0]["function"]["output"])
    assert output["invalid_arguments"] is True and "is too long" in output["error"]


# --- a backtracking pattern cannot stall anyone ----------------------------------------------


async def other_request(key: str) -> int:
    http = HttpCommunicator(
        application, "GET", "/v1/assistants",
        headers=[(b"authorization", f"Bearer {key}".encode()), (b"host", b"localhost")],
    )
    response = await http.get_response(timeout=10)
    return response["status"]


@pytest.mark.django_db(transaction=True)
async def test_a_backtracking_pattern_is_reported_to_the_model_while_others_are_served(monkeypatch, alice, thread, tutor):
    _, key = await sync_to_async(ApiKey.issue)(alice)
    parameters = {"type": "object", "properties": {"word": {"type": "string", "pattern": "^(a+)+$"}}}
    arguments = json.dumps({"word": BACKTRACKING_INPUT})
    provider = ScriptedProvider(call_turn(("call_1", "check_word", arguments)), text_turn("Let me fix that."))
    use(monkeypatch, provider)
    run = await start_run(thread, tutor, {"name": "check_word", "parameters": parameters})
    with hang_guard(10):  # Python's re would need hours for this input
        _, status = await asyncio.gather(executor.execute(run.id), other_request(key))
    assert status == 200
    await sync_to_async(run.refresh_from_db)()
    assert run.status == "completed"
    output = json.loads(await call_output(run))
    assert output["invalid_arguments"] is True and "does not match '^(a+)+$'" in output["error"]
    assert "does not match" in provider.requests[1].messages[-1]["content"]


@pytest.mark.django_db(transaction=True)
async def test_a_backtracking_pattern_property_is_matched_in_linear_time(monkeypatch, thread, tutor):
    parameters = {"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}}}
    arguments = json.dumps({BACKTRACKING_INPUT: "not a number"})
    use(monkeypatch, ScriptedProvider(call_turn(("call_1", "tally", arguments))))
    run = await start_run(thread, tutor, {"name": "tally", "parameters": parameters})
    with hang_guard(10):
        await executor.execute(run.id)
    await sync_to_async(run.refresh_from_db)()
    assert run.status == "requires_action"  # the key does not match the pattern, so the call is fine


@pytest.mark.django_db(transaction=True)
async def test_a_schema_too_costly_to_evaluate_times_out_off_the_event_loop(monkeypatch, alice, thread, tutor):
    _, key = await sync_to_async(ApiKey.issue)(alice)
    # Each level checks the next one twice: 2**40 checks of one value, whatever the engine.
    levels = {f"l{i}": {"allOf": [{"$ref": f"#/$defs/l{i + 1}"}] * 2} for i in range(40)}
    parameters = {"type": "object", "$defs": {**levels, "l40": {"type": "string"}}, "properties": {"n": {"$ref": "#/$defs/l0"}}}
    use(monkeypatch, ScriptedProvider(call_turn(("call_1", "bomb", '{"n": 1}')), text_turn("Sorry.")))
    run = await start_run(thread, tutor, {"name": "bomb", "parameters": parameters})
    with hang_guard(10):
        execution = asyncio.ensure_future(executor.execute(run.id))
        served = asyncio.ensure_future(other_request(key))
        done, _ = await asyncio.wait({execution, served}, return_when=asyncio.FIRST_COMPLETED)
        assert served in done and not execution.done()  # the page answered while the check ran
        await execution
    assert served.result() == 200
    await sync_to_async(run.refresh_from_db)()
    assert run.status == "completed"
    output = json.loads(await call_output(run))
    assert output["invalid_arguments"] is True and "took too long" in output["error"]
