"""OpenAICompatProvider against a real local HTTP server speaking OpenAI's wire format."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import openai
import pytest

from chat.providers import openai_compat
from chat.providers.base import Finish, ModelRequest, ProviderError, TextDelta, ToolCallDelta, Usage
from chat.providers.openai_compat import MALFORMED, OpenAICompatProvider, close_clients

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What's the weather in Paris and Rome?"},
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(autouse=True)
async def _fresh_provider_state():
    openai_compat._token_fields.clear()  # the learnt max_tokens/max_completion_tokens choices
    yield
    await close_clients()
    openai_compat._token_fields.clear()


@pytest.fixture
def provider(fake_openai) -> OpenAICompatProvider:
    return OpenAICompatProvider(api_key="sk-test", base_url=fake_openai.base_url, max_retries=2, timeout=5.0)


def request(**overrides) -> ModelRequest:
    return ModelRequest(**{"model": "fake-model", "messages": MESSAGES, **overrides})


async def collect(provider: OpenAICompatProvider, req: ModelRequest | None = None):
    """All chunks the provider yielded, and the ProviderError that ended the stream (or None)."""
    chunks = []
    try:
        async for chunk in provider.stream(req or request()):
            chunks.append(chunk)
    except ProviderError as exc:
        return chunks, exc
    return chunks, None


def text_of(chunks) -> str:
    return "".join(c.text for c in chunks if isinstance(c, TextDelta))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chunk_json(delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


# --- the happy path ------------------------------------------------------------------------


async def test_it_streams_text_in_order(provider, fake_openai):
    fake_openai.script(text="Hello world", chunk_size=3)

    chunks, error = await collect(provider)

    assert error is None
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == ["Hel", "lo ", "wor", "ld"]
    assert chunks[-1] == Finish("stop")


async def test_it_skips_the_empty_content_of_the_role_chunk(provider, fake_openai):
    fake_openai.script(text="Hi")

    chunks, _ = await collect(provider)

    assert chunks[0] == TextDelta("Hi")
    assert all(c.text for c in chunks if isinstance(c, TextDelta))


async def test_it_reassembles_several_tool_calls_in_one_turn(provider, fake_openai):
    fake_openai.script(
        tool_calls=[
            {"id": "call_paris", "name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'},
            {"id": "call_rome", "name": "get_weather", "arguments": '{"city": "Rome", "unit": "celsius"}'},
        ],
        chunk_size=4,
        interleave=True,
    )

    chunks, error = await collect(provider, request(tools=[WEATHER_TOOL]))

    assert error is None
    deltas = [c for c in chunks if isinstance(c, ToolCallDelta)]
    calls = {}
    for d in deltas:
        call = calls.setdefault(d.index, {"ids": [], "names": [], "arguments": ""})
        call["ids"] += [d.id] if d.id else []
        call["names"] += [d.name] if d.name else []
        call["arguments"] += d.arguments
    assert calls == {
        0: {"ids": ["call_paris"], "names": ["get_weather"], "arguments": '{"city": "Paris", "unit": "celsius"}'},
        1: {"ids": ["call_rome"], "names": ["get_weather"], "arguments": '{"city": "Rome", "unit": "celsius"}'},
    }
    # Split like a real server: many argument pieces, interleaved between the calls.
    assert len(deltas) > 10
    assert [d.index for d in deltas[:4]] == [0, 1, 0, 1]
    # id and name only on each call's first piece.
    assert [(d.index, d.id) for d in deltas if d.id] == [(0, "call_paris"), (1, "call_rome")]
    assert chunks[-1] == Finish("tool_calls")
    assert text_of(chunks) == ""


async def test_it_sends_id_and_name_once_even_when_the_server_repeats_them_or_omits_index(provider, fake_openai):
    def piece(call_id, name, arguments):  # no "index", id and name on every piece (seen in the wild)
        return {"tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]}

    fake_openai.script(
        raw_lines=[
            chunk_json(piece("call_a", "lookup", '{"q": ')),
            chunk_json(piece("call_a", "lookup", '"x"}')),
            chunk_json(piece("call_b", "fetch", "{}")),
            chunk_json({}, "tool_calls"),
            "data: [DONE]",
        ]
    )

    chunks, error = await collect(provider)

    assert error is None
    assert chunks == [
        ToolCallDelta(index=0, id="call_a", name="lookup", arguments='{"q": '),
        ToolCallDelta(index=0, arguments='"x"}'),
        ToolCallDelta(index=1, id="call_b", name="fetch", arguments="{}"),
        Finish("tool_calls"),
    ]


async def test_it_reports_usage_then_finish_last(provider, fake_openai):
    fake_openai.script(text="Two words", usage={"prompt_tokens": 17, "completion_tokens": 2})

    chunks, _ = await collect(provider)

    assert chunks[-2:] == [Usage(prompt_tokens=17, completion_tokens=2), Finish("stop")]
    assert chunks[-2].total_tokens == 19


@pytest.mark.parametrize("reason", ["length", "content_filter", "stop"])
async def test_it_passes_the_finish_reason_through(provider, fake_openai, reason):
    fake_openai.script(text="Cut sho", finish_reason=reason)

    chunks, error = await collect(provider)

    assert error is None
    assert [c for c in chunks if isinstance(c, Finish)] == [Finish(reason)]


async def test_it_sends_messages_tools_and_sampling_options(provider, fake_openai):
    fake_openai.script(text="ok")
    response_format = {"type": "json_object"}

    await collect(
        provider,
        request(tools=[WEATHER_TOOL], temperature=0.2, top_p=0.9, max_tokens=64, response_format=response_format),
    )

    [sent] = fake_openai.chat_requests
    assert sent["model"] == "fake-model"
    assert sent["messages"] == MESSAGES
    assert sent["tools"] == [WEATHER_TOOL]
    assert sent["temperature"] == 0.2
    assert sent["top_p"] == 0.9
    assert sent["max_tokens"] == 64  # not api.openai.com: the field every compatible server knows
    assert "max_completion_tokens" not in sent
    assert sent["response_format"] == response_format
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent.headers["authorization"] == "Bearer sk-test"


async def test_it_leaves_out_tools_and_options_that_are_not_set(provider, fake_openai):
    fake_openai.script(text="ok")

    await collect(provider)

    [sent] = fake_openai.chat_requests
    assert set(sent) == {"model", "messages", "stream", "stream_options"}


async def test_it_switches_to_max_completion_tokens_when_the_server_rejects_max_tokens(provider, fake_openai):
    fake_openai.unsupported_params = {"max_tokens"}

    first, error = await collect(provider, request(max_tokens=50))
    second, _ = await collect(provider, request(max_tokens=50))

    assert error is None
    assert text_of(first) == text_of(second) == "What's the weather in Paris and Rome?"  # default echo
    sent = fake_openai.chat_requests
    assert [("max_tokens" in r, r.get("max_completion_tokens")) for r in sent] == [
        (True, None),  # rejected with OpenAI's 400 "Unsupported parameter"
        (False, 50),
        (False, 50),  # remembered for this server and model
    ]


# --- retries and HTTP errors ---------------------------------------------------------------


async def test_a_rate_limit_is_retried_and_then_succeeds(provider, fake_openai):
    fake_openai.script(status=429)  # with retry-after-ms: 10
    fake_openai.script(text="Second time lucky")

    started = time.monotonic()
    chunks, error = await collect(provider)

    assert error is None
    assert text_of(chunks) == "Second time lucky"
    assert len(fake_openai.chat_requests) == 2
    assert time.monotonic() - started < 1.0  # the server's 10 ms, not the SDK's 0.5 s backoff


async def test_a_persistent_rate_limit_fails_as_rate_limit_exceeded(fake_openai):
    provider = OpenAICompatProvider(api_key="sk-test", base_url=fake_openai.base_url, max_retries=1)
    fake_openai.script(status=429, message="Slow down, please.", times=None)

    chunks, error = await collect(provider)

    assert chunks == []
    assert error.code == "rate_limit_exceeded"
    assert "Slow down, please." in error.message
    assert len(fake_openai.chat_requests) == 2  # the request and one retry


async def test_a_retry_after_of_zero_falls_back_to_the_sdk_backoff(fake_openai):
    # Documents the SDK: only 0 < retry-after <= 120 s is honoured; 0 means "0.5 s minus jitter".
    provider = OpenAICompatProvider(api_key="sk-test", base_url=fake_openai.base_url, max_retries=1)
    fake_openai.script(status=429, retry_after=0)
    fake_openai.script(text="ok")

    started = time.monotonic()
    chunks, error = await collect(provider)

    assert error is None
    assert 0.3 <= time.monotonic() - started < 2.0


async def test_a_server_error_is_retried_then_fails_as_server_error(fake_openai):
    provider = OpenAICompatProvider(api_key="sk-test", base_url=fake_openai.base_url, max_retries=1)
    fake_openai.script(status=500, headers={"retry-after-ms": "10"}, times=None)

    chunks, error = await collect(provider)

    assert chunks == []
    assert error.code == "server_error"
    assert "500" in error.message and "The server had an error" in error.message
    assert len(fake_openai.chat_requests) == 2


async def test_an_unknown_model_fails_as_invalid_prompt_with_the_servers_message(provider, fake_openai):
    fake_openai.reject_unknown_models = True

    chunks, error = await collect(provider, request(model="no-such-model"))

    assert chunks == []
    assert error.code == "invalid_prompt"
    assert error.message == "The model `no-such-model` does not exist or you do not have access to it."
    assert len(fake_openai.chat_requests) == 1  # 404 is not retried


@pytest.mark.parametrize("status", [400, 422])
async def test_a_rejected_request_fails_as_invalid_prompt_without_retrying(provider, fake_openai, status):
    fake_openai.script(status=status, message="'messages' must contain at least one user message.", times=None)

    chunks, error = await collect(provider)

    assert (chunks, error.code, error.message) == ([], "invalid_prompt", "'messages' must contain at least one user message.")
    assert len(fake_openai.chat_requests) == 1


async def test_a_vllm_style_error_body_still_gives_the_servers_message(provider, fake_openai):
    body = {"object": "error", "message": "The model `x` does not exist.", "type": "NotFoundError", "param": None, "code": 404}
    fake_openai.script(status=404, body=body)

    _, error = await collect(provider)

    assert (error.code, error.message) == ("invalid_prompt", "The model `x` does not exist.")


async def test_an_authentication_error_fails_as_server_error(provider, fake_openai):
    fake_openai.api_key = "sk-other"

    _, error = await collect(provider)

    assert error.code == "server_error"
    assert "401" in error.message and "Incorrect API key" in error.message


async def test_an_unreachable_server_fails_as_server_error(fake_openai):
    base_url = f"http://127.0.0.1:{closed_port()}/v1"
    provider = OpenAICompatProvider(api_key="sk-test", base_url=base_url, max_retries=0, timeout=2.0)

    chunks, error = await collect(provider)

    assert chunks == []
    assert error.code == "server_error"
    assert base_url in error.message


async def test_a_server_that_does_not_answer_in_time_fails_as_server_error(fake_openai):
    provider = OpenAICompatProvider(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0, timeout=0.3)
    fake_openai.script(text="late", response_delay=1.0)

    chunks, error = await collect(provider)

    assert chunks == []
    assert (error.code, error.message) == ("server_error", "The model server did not answer within 0.3 s.")


# --- broken streams ------------------------------------------------------------------------


async def test_invalid_json_in_a_data_line_is_a_malformed_stream(provider, fake_openai):
    fake_openai.script(raw_lines=[chunk_json({"content": "Partial"}), 'data: {"id": "chatcmpl-1", "choices": [', "data: [DONE]"])

    chunks, error = await collect(provider)

    assert chunks == [TextDelta("Partial")]
    assert error.code == "server_error"
    assert error.message.startswith(MALFORMED)
    assert "not valid JSON" in error.message


async def test_a_chunk_without_choices_is_a_malformed_stream(provider, fake_openai):
    fake_openai.script(raw_lines=[{"id": "chatcmpl-1", "object": "chat.completion.chunk"}, "data: [DONE]"])

    chunks, error = await collect(provider)

    assert chunks == []
    assert error.message == MALFORMED + "a chunk has no 'choices'."


async def test_a_tool_call_with_a_bad_index_is_a_malformed_stream(provider, fake_openai):
    bad = {"tool_calls": [{"index": "first", "id": "call_1", "function": {"name": "f", "arguments": ""}}]}
    fake_openai.script(raw_lines=[chunk_json(bad), chunk_json({}, "tool_calls"), "data: [DONE]"])

    _, error = await collect(provider)

    assert error.message.startswith(MALFORMED) and "'index'" in error.message


async def test_a_stream_that_ends_without_a_finish_reason_is_malformed(provider, fake_openai):
    fake_openai.script(raw_lines=[chunk_json({"content": "Half an ans"}), "data: [DONE]"])

    chunks, error = await collect(provider)

    assert chunks == [TextDelta("Half an ans")]
    assert error.message == MALFORMED + "it ended without a finish_reason."


async def test_a_connection_dropped_mid_stream_fails_after_the_text_already_streamed(provider, fake_openai):
    # events: role chunk, "Hel", "lo ", | dropped before "wor"
    fake_openai.script(text="Hello world", chunk_size=3, drop_after=3)

    chunks, error = await collect(provider)

    assert chunks == [TextDelta("Hel"), TextDelta("lo ")]
    assert error.code == "server_error"
    assert error.message.startswith(MALFORMED + "the connection broke mid-stream")
    assert len(fake_openai.chat_requests) == 1  # a started stream is never replayed


async def test_an_error_event_inside_the_stream_fails_as_server_error(provider, fake_openai):
    error_event = {"error": {"message": "The model crashed.", "type": "server_error", "param": None, "code": None}}
    fake_openai.script(raw_lines=[chunk_json({"content": "So"}), error_event])

    chunks, error = await collect(provider)

    assert chunks == [TextDelta("So")]
    assert (error.code, error.message) == ("server_error", "The model server reported an error mid-stream: The model crashed.")


async def test_a_stream_that_stalls_fails_after_the_timeout(fake_openai):
    provider = OpenAICompatProvider(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0, timeout=0.3)
    fake_openai.script(text="never", delay=1.0)  # headers at once, then silence

    chunks, error = await collect(provider)

    assert chunks == []
    assert error.code == "server_error"
    assert error.message == MALFORMED + "no data for 0.3 s, the stream was abandoned."


# --- stopping early ------------------------------------------------------------------------


async def test_breaking_out_early_closes_the_http_response(provider, fake_openai):
    fake_openai.script(text="word " * 200, delay=0.02)

    started = time.monotonic()
    async with contextlib.aclosing(provider.stream(request())) as stream:
        async for chunk in stream:
            assert chunk == TextDelta("word ")
            break

    assert time.monotonic() - started < 1.0
    served = fake_openai.responses[-1]
    assert await asyncio.to_thread(served.client_disconnected.wait, 2.0)
    assert not served.completed and served.events_sent < 50


async def test_abandoning_the_iterator_without_closing_it_does_not_hang_or_leak(provider, fake_openai):
    fake_openai.script(text="word " * 200, delay=0.02)

    async def first_chunk():
        async for chunk in provider.stream(request()):
            return chunk  # the generator is dropped unclosed, like a consumer that raises

    assert await asyncio.wait_for(first_chunk(), 2.0) == TextDelta("word ")
    gc.collect()
    await asyncio.sleep(0)  # the loop's async-generator finalizer closes it
    served = fake_openai.responses[-1]
    assert await asyncio.to_thread(served.client_disconnected.wait, 2.0)

    fake_openai.script(text="still works")
    chunks, error = await asyncio.wait_for(collect(provider), 2.0)
    assert (text_of(chunks), error) == ("still works", None)


async def test_cancelling_the_consumer_closes_the_http_response(provider, fake_openai):
    fake_openai.script(text="word " * 200, delay=0.02)
    got_one = asyncio.Event()

    async def consume():
        async for _ in provider.stream(request()):
            got_one.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_one.wait(), 2.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    served = fake_openai.responses[-1]
    assert await asyncio.to_thread(served.client_disconnected.wait, 2.0)


async def test_consecutive_streams_reuse_one_connection(provider, fake_openai):
    fake_openai.script(text="one")
    fake_openai.script(text="two")

    await collect(provider)
    await collect(OpenAICompatProvider(api_key="sk-test", base_url=fake_openai.base_url, max_retries=2, timeout=5.0))

    first, second = fake_openai.chat_requests
    assert first.client_port == second.client_port  # same cached client, connection kept alive


# --- the fake server itself ----------------------------------------------------------------


def test_the_fake_server_speaks_openais_sse_wire_format(fake_openai):
    fake_openai.script(text="Hi there", tool_calls=[{"id": "call_1", "name": "f", "arguments": {"a": 1}}])
    url = urlsplit(fake_openai.base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    body = {"model": "m", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    raw = response.read().decode()
    conn.close()

    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    events = raw.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert all(e.startswith("data: ") for e in events[:-2])
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    first_call = next(c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("tool_calls"))
    assert first_call["choices"][0]["delta"]["tool_calls"] == [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    ]


async def test_the_fake_server_lists_models_and_echoes_by_default(fake_openai):
    client = openai.AsyncOpenAI(api_key="sk-test", base_url=fake_openai.base_url, max_retries=0)
    try:
        models = await client.models.list()
        completion = await client.chat.completions.create(model="fake-model", messages=MESSAGES)
    finally:
        await client.close()

    assert [m.id for m in models.data] == ["gpt-4o-mini", "fake-model"]
    assert completion.choices[0].message.content == "What's the weather in Paris and Rome?"
    assert [r.path for r in fake_openai.requests] == ["/v1/models", "/v1/chat/completions"]
