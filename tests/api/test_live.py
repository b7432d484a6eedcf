"""Through the real ASGI app in-process: an API run streams as SSE and, at the same time,
into the owner's open browser tab (the thread's WebSocket)."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.testing import HttpCommunicator

from chat.api.models import ApiKey
from project.asgi import application
from tests.engine.scripted import ScriptedProvider, call_turn, text_turn, use
from tests.test_consumers import connect, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]


def parse_sse(body: bytes) -> list[tuple[str, str]]:
    events = []
    for block in body.decode().split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields.get("event"), fields.get("data")))
    return events


async def post(path: str, key: str, body: dict) -> dict:
    http = HttpCommunicator(
        application,
        "POST",
        path,
        body=json.dumps(body).encode(),
        headers=[(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json"), (b"host", b"localhost")],
    )
    # Read by hand: HttpCommunicator.get_response() trips over a final body-less chunk.
    await http.send_input({"type": "http.request", "body": http.body})
    start = await http.receive_output(10)
    body = b""
    while True:
        chunk = await http.receive_output(10)
        body += chunk.get("body", b"")
        if not chunk.get("more_body"):
            break
    return {"status": start["status"], "headers": start["headers"], "body": body}


async def test_an_api_run_streams_sse_and_into_the_owners_open_tab(alice, thread, tutor):
    _, key = await sync_to_async(ApiKey.issue)(alice)
    socket, connected, _ = await connect(thread.id, alice)
    assert connected
    await socket.receive_from()  # the snapshot
    body = {"assistant_id": tutor.id, "stream": True, "additional_messages": [{"role": "user", "content": "Solve 4x = 12"}]}
    response = await post(f"/v1/threads/{thread.id}/runs", key, body)
    assert response["status"] == 200
    assert dict(response["headers"])[b"Content-Type"].startswith(b"text/event-stream")
    events = parse_sse(response["body"])
    names = [name for name, _ in events]
    assert names[:2] == ["thread.run.created", "thread.run.queued"]
    assert names[-2:] == ["thread.run.completed", "done"] and events[-1][1] == "[DONE]"
    text = "".join(json.loads(d)["delta"]["content"][0]["text"]["value"] for n, d in events if n == "thread.message.delta")
    assert "x = 3" in text
    completed = json.loads(next(d for n, d in events if n == "thread.message.completed"))
    assert completed["content"][0]["text"]["value"] == text
    for name in ("thread.message.created", "thread.run.step.created"):
        assert names.count(name) == 1
    frames = await receive_until(socket, r"message--assistant message--completed", timeout=10)
    assert "x = 3" in "".join(frames)
    await socket.disconnect()


async def test_a_run_on_a_thread_the_key_does_not_own_is_404(alice, bob, thread, tutor):
    _, key = await sync_to_async(ApiKey.issue)(bob)
    response = await post(f"/v1/threads/{thread.id}/runs", key, {"assistant_id": tutor.id, "stream": True})
    assert response["status"] == 404
    assert json.loads(response["body"])["error"]["type"] == "invalid_request_error"


async def test_a_streamed_run_cancelled_midway_ends_with_cancelled_and_done(monkeypatch, alice, thread, tutor):
    provider = ScriptedProvider(text_turn(*[f"w{i} " for i in range(200)]), delay=0.01)
    use(monkeypatch, provider)
    _, key = await sync_to_async(ApiKey.issue)(alice)
    body = {"assistant_id": tutor.id, "stream": True, "additional_messages": [{"role": "user", "content": "go"}]}
    streaming = asyncio.create_task(post(f"/v1/threads/{thread.id}/runs", key, body))
    await asyncio.wait_for(provider.started.wait(), 5)
    await asyncio.sleep(0.1)
    run_id = await sync_to_async(lambda: thread.runs.get().id)()
    cancelled = await post(f"/v1/threads/{thread.id}/runs/{run_id}/cancel", key, {})
    assert cancelled["status"] == 200 and json.loads(cancelled["body"])["status"] in ("cancelling", "cancelled")
    response = await asyncio.wait_for(streaming, 10)
    names = [name for name, _ in parse_sse(response["body"])]
    assert "thread.message.delta" in names and "thread.message.incomplete" in names
    assert names[-2:] == ["thread.run.cancelled", "done"]
    assert "thread.run.cancelling" in names or names.count("thread.run.cancelled") == 1


async def test_a_function_call_streams_a_step_delta_then_requires_action(monkeypatch, alice, thread, tutor):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]
    use(monkeypatch, ScriptedProvider(call_turn(("call_1", "lookup", '{"q": "x"}')), text_turn("Found ", "it.")))
    _, key = await sync_to_async(ApiKey.issue)(alice)
    body = {"assistant_id": tutor.id, "stream": True, "tools": tools, "additional_messages": [{"role": "user", "content": "look"}]}
    events = parse_sse((await post(f"/v1/threads/{thread.id}/runs", key, body))["body"])
    names = [name for name, _ in events]
    assert names[-2:] == ["thread.run.requires_action", "done"]
    deltas = [json.loads(d)["delta"]["step_details"]["tool_calls"][0] for n, d in events if n == "thread.run.step.delta"]
    # As the hosted API: the call opens (its id, its name, no arguments), then its arguments.
    assert deltas[0] == {"index": 0, "id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "", "output": None}}
    assert deltas[1:] == [{"index": 0, "type": "function", "function": {"arguments": '{"q": "x"}'}}]
    assert names.index("thread.run.step.created") < names.index("thread.run.step.delta")
    run_id = json.loads(events[0][1])["id"]
    body = {"stream": True, "tool_outputs": [{"tool_call_id": "call_1", "output": "42"}]}
    events = parse_sse((await post(f"/v1/threads/{thread.id}/runs/{run_id}/submit_tool_outputs", key, body))["body"])
    names = [name for name, _ in events]
    assert names[0] == "thread.run.queued" and names[-2:] == ["thread.run.completed", "done"]
    assert "thread.run.step.completed" in names  # the tool step that waited for the outputs
    text = "".join(json.loads(d)["delta"]["content"][0]["text"]["value"] for n, d in events if n == "thread.message.delta")
    assert text == "Found it."


async def test_a_streams_events_are_compact_utf8_json_even_with_values_orjson_refuses(alice, thread, tutor):
    """The events' data is orjson's compact UTF-8 (chat.api.streaming.event_json); an integer
    beyond 64 bits in a user's tool schema, which orjson refuses, streams through json.dumps."""
    _, key = await sync_to_async(ApiKey.issue)(alice)
    huge = 2**70
    tool = {"type": "function", "function": {"name": "count", "parameters": {"type": "object", "properties": {"n": {"type": "integer", "maximum": huge}}}}}
    instructions = "Réponds pas à pas ✓ 😀 — 数学"
    body = {
        "assistant_id": tutor.id, "stream": True, "instructions": instructions, "tools": [tool],
        "additional_messages": [{"role": "user", "content": "Solve 4x = 12"}],
    }
    response = await post(f"/v1/threads/{thread.id}/runs", key, body)
    assert response["status"] == 200
    events = parse_sse(response["body"])
    assert [name for name, _ in events][-2:] == ["thread.run.completed", "done"]
    created = json.loads(events[0][1])
    assert created["tools"][0]["function"]["parameters"]["properties"]["n"]["maximum"] == huge
    assert created["instructions"] == instructions
    # Non-ASCII as UTF-8, not \\u escapes; no spaces after separators, as the hosted API sends.
    assert f'"instructions":"{instructions}"'.encode() in response["body"]
    delta = next(data for name, data in events if name == "thread.message.delta")
    assert delta.startswith('{"id":"msg_') and ", " not in delta.split('"value":')[0]
