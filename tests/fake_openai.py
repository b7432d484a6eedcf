"""A real, local OpenAI-compatible HTTP server for tests.

It speaks the Chat Completions wire format over a real socket, the way api.openai.com,
vLLM, Ollama or LiteLLM do, so the official ``openai`` SDK (and anything built on it) can
be driven end to end: request encoding, retries, Server-Sent Events parsing, connection
handling. Only the standard library is used.

Endpoints:

* ``POST /v1/chat/completions`` -- with ``"stream": true`` answers
  ``Content-Type: text/event-stream`` (chunked transfer encoding), one
  ``data: {chat.completion.chunk}\\n\\n`` event per delta, a usage chunk with empty
  ``choices`` when ``stream_options.include_usage`` is set, then ``data: [DONE]\\n\\n``.
  Without ``stream`` it answers one ``chat.completion`` object.
* ``GET /v1/models`` and ``GET /v1/models/{id}``.

Each chat request takes the next scripted response from a queue (see
:meth:`FakeOpenAIServer.script`); when the queue is empty the server echoes the last user
message back. Every request is recorded in :attr:`FakeOpenAIServer.requests`.

Use from pytest through the ``fake_openai`` fixture (register this module with
``pytest_plugins = ["tests.fake_openai"]``), or by hand::

    python -m tests.fake_openai --port 8999     # then OPENAI_BASE_URL=http://127.0.0.1:8999/v1
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import struct
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

__all__ = ["FakeOpenAIServer", "RecordedRequest", "Script", "ServedResponse", "fake_openai", "fake_openai_server"]

DEFAULT_MODELS = ["gpt-4o-mini", "fake-model"]

# OpenAI's error bodies for the statuses tests usually script: (message, type, code).
_ERROR_DEFAULTS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to use this model.", "invalid_request_error", "model_not_allowed"),
    404: (
        "The model `{model}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    408: ("Request timed out.", "timeout", None),
    409: ("Conflict.", "invalid_request_error", None),
    422: ("Unprocessable entity.", "invalid_request_error", None),
    429: (
        "Rate limit reached for {model} on requests per min (RPM): Limit 3, Used 3, Requested 1. "
        "Please try again in 10ms.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}

_ALTERNATIVE_PARAM = {"max_tokens": "max_completion_tokens", "max_completion_tokens": "max_tokens"}


@dataclass
class Script:
    """One scripted reply to a chat completion request (built by :meth:`FakeOpenAIServer.script`)."""

    text: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    chunk_size: int | None = None
    interleave: bool = False
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    status: int = 200
    body: Any = None
    message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    error_param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw_lines: list[Any] | None = None
    drop_after: int | None = None
    delay: float = 0.0
    response_delay: float = 0.0
    done: bool = True
    remaining: int | None = 1  # None: used for every request from now on


class RecordedRequest(dict):
    """The JSON body of a request (``{}`` for a GET), plus ``method``, ``path``,
    ``headers`` (lower-cased names) and ``client_port``."""

    def __init__(self, body: dict[str, Any], *, method: str, path: str, headers: dict[str, str], client_port: int):
        super().__init__(body)
        self.method = method
        self.path = path
        self.headers = headers
        self.client_port = client_port

    @property
    def body(self) -> dict[str, Any]:
        return dict(self)


@dataclass
class ServedResponse:
    """What the server did with one chat completion request."""

    status: int
    stream: bool
    events_sent: int = 0
    completed: bool = False
    dropped: bool = False
    client_disconnected: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeOpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (resets, broken pipes) are what several tests do on purpose.
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _ClientGone(Exception):
    pass


class FakeOpenAIServer:
    """An OpenAI-compatible server on ``127.0.0.1`` in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.fake = self
        self._thread: threading.Thread | None = None
        self.host, self.port = self._httpd.server_address[:2]
        self.base_url = f"http://{self.host}:{self.port}/v1"
        self.reset()

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> FakeOpenAIServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget scripts, recorded requests and settings (called around every test)."""
        with self._lock:
            self._scripts: deque[Script] = deque()
            self.requests: list[RecordedRequest] = []
            self.responses: list[ServedResponse] = []
            self.models: list[str] = list(DEFAULT_MODELS)
            # When True, a chat request for a model not in ``models`` gets OpenAI's 404.
            self.reject_unknown_models = False
            # Request fields answered with OpenAI's 400 "Unsupported parameter" (e.g. {"max_tokens"}).
            self.unsupported_params: set[str] = set()
            # When set, requests must carry ``Authorization: Bearer <api_key>`` (else 401).
            self.api_key: str | None = None

    # --- scripting -------------------------------------------------------------------

    def script(
        self,
        *,
        text: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        chunk_size: int | None = None,
        interleave: bool = False,
        finish_reason: str | None = None,
        usage: dict[str, int] | None = None,
        status: int = 200,
        body: Any = None,
        message: str | None = None,
        error_type: str | None = None,
        error_code: str | None = None,
        error_param: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | str | None = None,
        raw_lines: list[Any] | None = None,
        drop_after: int | None = None,
        delay: float = 0.0,
        response_delay: float = 0.0,
        done: bool = True,
        times: int | None = 1,
    ) -> Script:
        """Queue the reply to the next chat completion request.

        Success (``status=200``):
          ``text`` -- content, streamed in pieces of ``chunk_size`` characters (default: one
          word per piece). ``tool_calls`` -- ``[{"name", "arguments" (str or dict), "id"?}]`` (``"id": ""`` is sent empty);
          each call's first delta carries index/id/type/name, its arguments follow in pieces of
          ``chunk_size`` characters (default 5); ``interleave=True`` alternates pieces between
          calls. ``finish_reason`` defaults to ``tool_calls``/``stop``; ``usage`` overrides the
          computed ``{"prompt_tokens", "completion_tokens"}``. ``done=False`` leaves out
          ``data: [DONE]``.

        Errors (``status>=400``): the body is OpenAI's ``{"error": {message, type, param,
        code}}`` built from ``message``/``error_type``/``error_code``/``error_param`` or
        per-status defaults; ``body`` replaces it (dict/list sent as JSON, str/bytes sent
        as-is). A 429 carries ``retry-after-ms: 10`` unless ``retry_after`` (seconds, sent as
        ``retry-after``) or ``headers`` say otherwise.

        Stream faults: ``raw_lines`` replaces the generated events (str -> ``line + "\\n\\n"``,
        dict -> ``data: <json>\\n\\n``, bytes -> verbatim; no automatic ``[DONE]``).
        ``drop_after=N`` closes the socket after N events. ``delay`` sleeps before every
        event; ``response_delay`` sleeps before the status line.

        ``times`` queues the same reply that many times; ``times=None`` answers every
        following request with it.
        """
        extra = dict(headers or {})
        if retry_after is not None:
            extra["retry-after"] = str(retry_after)
        elif status == 429 and not any(k.lower() in ("retry-after", "retry-after-ms") for k in extra):
            extra["retry-after-ms"] = "10"
        item = Script(
            text=text,
            tool_calls=tool_calls,
            chunk_size=chunk_size,
            interleave=interleave,
            finish_reason=finish_reason,
            usage=usage,
            status=status,
            body=body,
            message=message,
            error_type=error_type,
            error_code=error_code,
            error_param=error_param,
            headers=extra,
            raw_lines=raw_lines,
            drop_after=drop_after,
            delay=delay,
            response_delay=response_delay,
            done=done,
            remaining=times,
        )
        with self._lock:
            self._scripts.append(item)
        return item

    @property
    def pending_scripts(self) -> int:
        with self._lock:
            return len(self._scripts)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # --- internals used by the handler ------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _next_script(self, body: dict[str, Any]) -> Script:
        with self._lock:
            if self._scripts:
                item = self._scripts[0]
                if item.remaining is not None:
                    item.remaining -= 1
                    if item.remaining <= 0:
                        self._scripts.popleft()
                return item
        return Script(text=_last_user_text(body.get("messages")) or "Hello from the fake OpenAI server.")

    def _served(self, response: ServedResponse) -> None:
        with self._lock:
            self.responses.append(response)


def _last_user_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _pieces(text: str, size: int | None) -> list[str]:
    if not text:
        return []
    if size is None:
        return re.findall(r"\s+\S*\s*|\S+\s*", text)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _words(value: Any) -> int:
    return len(json.dumps(value).split()) if not isinstance(value, str) else len(value.split())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _HTTPServer

    # --- plumbing ----------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    @property
    def fake(self) -> FakeOpenAIServer:
        return self.server.fake

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(payload, bytes):
            data, ctype = payload, "text/plain; charset=utf-8"
        elif isinstance(payload, str):
            data, ctype = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:24]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, type_: str, code: str | None = None, param: str | None = None) -> None:
        self._send_json(status, {"error": {"message": message, "type": type_, "param": param, "code": code}})

    def _write_raw(self, data: bytes) -> None:
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        except OSError as exc:  # BrokenPipe, ConnectionReset, ...
            raise _ClientGone from exc

    def _record(self, body: dict[str, Any]) -> RecordedRequest:
        request = RecordedRequest(
            body,
            method=self.command,
            path=urlsplit(self.path).path,
            headers={k.lower(): v for k, v in self.headers.items()},
            client_port=self.client_address[1],
        )
        self.fake._record(request)
        return request

    # --- endpoints ---------------------------------------------------------------------

    def _embeddings(self, body: dict[str, Any]) -> None:
        """``POST /v1/embeddings``: deterministic hashed bag-of-words vectors (64 floats),
        as floats or as the base64 float32 the SDK asks for by default."""
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not texts or "model" not in body:
            self._error(400, "'input' and 'model' are required.", "invalid_request_error")
            return
        data = []
        for index, text in enumerate(texts):
            vector = [0.0] * 64
            for word in re.findall(r"[a-z]+", str(text).lower()):
                vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
            norm = sum(v * v for v in vector) ** 0.5 or 1.0
            vector = [v / norm for v in vector]
            if body.get("encoding_format") == "base64":
                encoded: Any = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                encoded = vector
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(len(str(t).split()) for t in texts)
        self._send_json(
            200,
            {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
        )

    def do_GET(self) -> None:  # noqa: N802
        request = self._record({})
        path = request.path.removeprefix("/v1")
        if path == "/models":
            created = 1_700_000_000
            data = [{"id": m, "object": "model", "created": created, "owned_by": "fake"} for m in self.fake.models]
            self._send_json(200, {"object": "list", "data": data})
        elif path.startswith("/models/") and path.removeprefix("/models/") in self.fake.models:
            model = path.removeprefix("/models/")
            self._send_json(200, {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": "fake"})
        elif path.startswith("/models/"):
            model = path.removeprefix("/models/")
            message = _ERROR_DEFAULTS[404][0].format(model=model)
            self._error(404, message, "invalid_request_error", "model_not_found")
        else:
            self._error(404, f"Unknown request URL: GET {request.path}.", "invalid_request_error", "unknown_url")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._record({})
            self._error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
            return
        if not isinstance(body, dict):
            body = {"_body": body}
        request = self._record(body)
        if request.path.removeprefix("/v1") == "/embeddings":
            self._embeddings(body)
            return
        if request.path.removeprefix("/v1") != "/chat/completions":
            self._error(404, f"Unknown request URL: POST {request.path}.", "invalid_request_error", "unknown_url")
            return
        fake = self.fake
        if fake.api_key is not None and request.headers.get("authorization") != f"Bearer {fake.api_key}":
            self._error(401, _ERROR_DEFAULTS[401][0], "invalid_request_error", "invalid_api_key")
            return
        for name in ("model", "messages"):
            if name not in body:
                self._error(400, f"Missing required parameter: '{name}'.", "invalid_request_error", "missing_required_parameter", name)
                return
        for name in sorted(fake.unsupported_params):
            if name in body:
                hint = f" Use '{_ALTERNATIVE_PARAM[name]}' instead." if name in _ALTERNATIVE_PARAM else ""
                self._error(
                    400,
                    f"Unsupported parameter: '{name}' is not supported with this model.{hint}",
                    "invalid_request_error",
                    "unsupported_parameter",
                    name,
                )
                return
        model = str(body["model"])
        if fake.reject_unknown_models and model not in fake.models:
            self._error(404, _ERROR_DEFAULTS[404][0].format(model=model), "invalid_request_error", "model_not_found")
            return

        item = fake._next_script(body)
        if item.response_delay:
            time.sleep(item.response_delay)
        if item.status >= 400:
            self._scripted_error(item, model)
        elif body.get("stream"):
            self._stream(item, body, model)
        else:
            self._complete(item, body, model)

    # --- replies -----------------------------------------------------------------------

    def _scripted_error(self, item: Script, model: str) -> None:
        fake = self.fake
        fake._served(ServedResponse(status=item.status, stream=False, completed=True))
        if item.body is not None:
            payload = item.body
        else:
            message, type_, code = _ERROR_DEFAULTS.get(item.status, ("The server returned an error.", "server_error", None))
            payload = {
                "error": {
                    "message": item.message if item.message is not None else message.format(model=model),
                    "type": item.error_type or type_,
                    "param": item.error_param,
                    "code": item.error_code if item.error_code is not None else code,
                }
            }
        self._send_json(item.status, payload, item.headers)

    def _events(self, item: Script, body: dict[str, Any], model: str) -> list[bytes]:
        """The SSE events of a scripted stream, in order."""
        if item.raw_lines is not None:
            events = []
            for line in item.raw_lines:
                if isinstance(line, bytes):
                    events.append(line)
                elif isinstance(line, str):
                    events.append(line.encode() + b"\n\n")
                else:
                    events.append(b"data: " + json.dumps(line).encode() + b"\n\n")
            return events

        options = body.get("stream_options") or {}
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None, choices: bool = True) -> bytes:
            payload: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else [],
            }
            if include_usage:
                payload["usage"] = usage
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        calls = item.tool_calls or []
        events = [chunk({"role": "assistant", "content": "" if not calls or item.text else None, "refusal": None})]
        produced = 0
        for piece in _pieces(item.text or "", item.chunk_size):
            events.append(chunk({"content": piece}))
            produced += 1

        streams: list[list[dict[str, Any]]] = []
        for index, call in enumerate(calls):
            arguments = call.get("arguments", "")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            # An explicit id is sent as given, even "" (some servers send empty ids).
            call_id = call["id"] if "id" in call else f"call_{uuid.uuid4().hex[:24]}"
            deltas = [
                {"index": index, "id": call_id, "type": "function", "function": {"name": call["name"], "arguments": ""}}
            ]
            deltas += [
                {"index": index, "function": {"arguments": piece}} for piece in _pieces(arguments, item.chunk_size or 5)
            ]
            streams.append(deltas)
        if item.interleave:
            order = [s[i] for i in range(max((len(s) for s in streams), default=0)) for s in streams if i < len(s)]
        else:
            order = [d for s in streams for d in s]
        for tool_delta in order:
            events.append(chunk({"tool_calls": [tool_delta]}))
            produced += 1

        finish = item.finish_reason or ("tool_calls" if calls else "stop")
        events.append(chunk({}, finish))
        if include_usage:
            if item.usage is not None:
                prompt = item.usage.get("prompt_tokens", 0)
                completion = item.usage.get("completion_tokens", 0)
            else:
                prompt = sum(_words(m.get("content", "")) for m in body["messages"] if isinstance(m, dict)) + 3
                completion = produced
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {
                    "reasoning_tokens": 0,
                    "audio_tokens": 0,
                    "accepted_prediction_tokens": 0,
                    "rejected_prediction_tokens": 0,
                },
            }
            events.append(chunk(None, usage=usage, choices=False))
        if item.done:
            events.append(b"data: [DONE]\n\n")
        return events

    def _stream(self, item: Script, body: dict[str, Any], model: str) -> None:
        served = ServedResponse(status=200, stream=True)
        self.fake._served(served)
        events = self._events(item, body, model)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:24]}")
        for name, value in item.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            for event in events:
                if item.drop_after is not None and served.events_sent >= item.drop_after:
                    served.dropped = True
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if item.delay:
                    time.sleep(item.delay)
                self._write_raw(event)
                served.events_sent += 1
            try:
                self.wfile.write(b"0\r\n\r\n")
            except OSError as exc:
                raise _ClientGone from exc
            served.completed = True
        except _ClientGone:
            served.client_disconnected.set()
            self.close_connection = True
        finally:
            served.finished.set()

    def _complete(self, item: Script, body: dict[str, Any], model: str) -> None:
        """A non-streaming ``chat.completion``."""
        served = ServedResponse(status=200, stream=False, completed=True)
        self.fake._served(served)
        calls = []
        for call in item.tool_calls or []:
            arguments = call.get("arguments", "")
            calls.append(
                {
                    "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {
                        "name": call["name"],
                        "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                    },
                }
            )
        message: dict[str, Any] = {"role": "assistant", "content": item.text, "refusal": None, "annotations": []}
        if calls:
            message["tool_calls"] = calls
        usage = item.usage or {
            "prompt_tokens": sum(_words(m.get("content", "")) for m in body["messages"] if isinstance(m, dict)) + 3,
            "completion_tokens": len(_pieces(item.text or "", item.chunk_size)) + len(calls),
        }
        payload = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": item.finish_reason or ("tool_calls" if calls else "stop"),
                }
            ],
            "usage": {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]},
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        self._send_json(200, payload, item.headers)


# --- pytest fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_openai_server():
    """One server for the whole session; prefer the function-scoped ``fake_openai``."""
    server = FakeOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAIServer):
    """The session's :class:`FakeOpenAIServer`, with scripts and records reset for this test."""
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()


if __name__ == "__main__":  # pragma: no cover - manual use
    import argparse

    parser = argparse.ArgumentParser(description="Run the fake OpenAI-compatible server (echoes the last user message).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999)
    args = parser.parse_args()
    with FakeOpenAIServer(args.host, args.port) as srv:
        print(f"Fake OpenAI server on {srv.base_url} (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
