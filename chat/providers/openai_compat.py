"""Any OpenAI-compatible server (OpenAI, vLLM, Ollama, LiteLLM, llama.cpp, ...) through
the official ``openai`` SDK's streaming Chat Completions API.

What the SDK does for us (``openai/_base_client.py``, ``AsyncAPIClient.request``):

* retries, up to ``max_retries`` times, connection errors, timeouts, and responses with
  status 408, 409, 429 or >= 500 (``_should_retry``; an ``x-should-retry: true|false``
  header overrides, a ``Retry-After`` above 120 s disables the retry);
* waits ``retry-after-ms`` / ``retry-after`` (seconds, fractions allowed, or an HTTP date)
  when the server sends a value in (0, 120] s, otherwise 0.5 s * 2**attempt capped at
  8 s, minus up to 25 % jitter (``_calculate_retry_timeout``). ``retry-after: 0`` is *not*
  honoured as "now": it falls back to that backoff.

Only the request is retried; a stream that breaks after the response started is reported,
never replayed (its text has already been shown).

What we add: the mapping of every failure to :class:`ProviderError`, validation of the
stream's chunks (the SDK builds them without validation), the choice between
``max_tokens`` and ``max_completion_tokens``, and per-event-loop client reuse.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import openai
from openai import AsyncOpenAI

from chat.providers.base import Chunk, Finish, ModelRequest, ProviderError, TextDelta, ToolCallDelta, Usage

MALFORMED = "The model server sent a malformed stream: "

MAX_TOKENS = "max_tokens"
MAX_COMPLETION_TOKENS = "max_completion_tokens"

# One SDK client (and so one connection pool) per configuration per event loop: httpx
# connections belong to the loop that opened them, and building a client costs ~20 ms
# (TLS context). Entries disappear with their loop.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], AsyncOpenAI]] = (
    weakref.WeakKeyDictionary()
)

# (server base URL, model) -> output-limit field, learnt when a server rejected the other one.
_token_fields: dict[tuple[str, str], str] = {}

_REJECTION_WORDS = ("unsupported", "not supported", "unrecognized", "unknown", "extra", "not permitted", "invalid")


async def close_clients() -> None:
    """Close the SDK clients cached for the running event loop (at shutdown, in tests)."""
    loop = asyncio.get_running_loop()
    clients = _clients.pop(loop, {})
    for client in clients.values():
        await client.close()


class OpenAICompatProvider:
    name = "openai"

    def __init__(self, *, api_key: str, base_url: str | None, max_retries: int = 3, timeout: float = 120.0) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.max_retries = max_retries
        self.timeout = timeout

    # --- client ------------------------------------------------------------------------

    def _client(self) -> AsyncOpenAI:
        loop = asyncio.get_running_loop()
        per_loop = _clients.get(loop)
        if per_loop is None:
            per_loop = _clients[loop] = {}
        key = (self.api_key, self.base_url, self.max_retries, self.timeout)
        client = per_loop.get(key)
        if client is None or client.is_closed():
            client = per_loop[key] = AsyncOpenAI(
                api_key=self.api_key,
                base_url=self.base_url,
                max_retries=self.max_retries,
                # Connecting should not take the whole read budget of a slow generation.
                timeout=openai.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            )
        return client

    # --- request -----------------------------------------------------------------------

    @staticmethod
    def _default_token_field(client: AsyncOpenAI) -> str:
        """OpenAI itself rejects ``max_tokens`` for reasoning models (o-series, gpt-5) and
        documents it as deprecated; Ollama, llama.cpp and older vLLM/LiteLLM only know
        ``max_tokens``. So: ``max_completion_tokens`` for OpenAI's own hosts, ``max_tokens``
        for everything else, and switch once if the server rejects the one we sent."""
        host = (urlsplit(str(client.base_url)).hostname or "").lower()
        if host == "api.openai.com" or host.endswith(".openai.azure.com"):
            return MAX_COMPLETION_TOKENS
        return MAX_TOKENS

    @staticmethod
    def _params(request: ModelRequest, token_field: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            params["tools"] = request.tools
            if request.tool_choice is not None:
                params["tool_choice"] = request.tool_choice
            # Sent only when it changes something: servers allow several calls by default,
            # and some reject the field (OpenAI's reasoning models).
            if not request.parallel_tool_calls:
                params["parallel_tool_calls"] = False
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if request.max_tokens is not None:
            params[token_field] = request.max_tokens
        if request.response_format is not None:
            params["response_format"] = request.response_format
        return params

    async def _open(self, client: AsyncOpenAI, request: ModelRequest) -> openai.AsyncStream[Any]:
        key = (str(client.base_url), request.model)
        field = _token_fields.get(key) or self._default_token_field(client)
        switched = False
        while True:
            try:
                return await client.chat.completions.create(**self._params(request, field))
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if request.max_tokens is None or switched or not _rejects_field(exc, field):
                    raise
                field = MAX_TOKENS if field == MAX_COMPLETION_TOKENS else MAX_COMPLETION_TOKENS
                _token_fields[key] = field
                switched = True

    # --- stream ------------------------------------------------------------------------

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        try:
            client = self._client()
            response = await self._open(client, request)
        except ProviderError:
            raise
        except openai.OpenAIError as exc:
            raise self._request_error(exc) from exc
        except Exception as exc:  # noqa: BLE001 - nothing but ProviderError may escape
            raise ProviderError(
                f"Could not send the request to the model server: {type(exc).__name__}: {exc}", "server_error"
            ) from exc

        assembler = _Assembler()
        async with response:  # closes the HTTP response on early exit, error or cancellation
            try:
                async for chunk in response:
                    for out in assembler.feed(chunk):
                        yield out
            except ProviderError:
                raise
            except openai.APITimeoutError as exc:
                raise ProviderError(
                    f"{MALFORMED}no data for {self.timeout:g} s, the stream was abandoned.", "server_error"
                ) from exc
            except openai.APIConnectionError as exc:
                raise ProviderError(f"{MALFORMED}the connection broke mid-stream ({_cause(exc)}).") from exc
            except openai.APIError as exc:
                # An ``data: {"error": {...}}`` event inside a 200 stream.
                raise ProviderError(f"The model server reported an error mid-stream: {exc.message}") from exc
            except UnicodeDecodeError as exc:
                raise ProviderError(f"{MALFORMED}a line is not valid UTF-8.") from exc
            except ValueError as exc:  # json.JSONDecodeError from the SDK's ``sse.json()``
                raise ProviderError(f"{MALFORMED}a data line is not valid JSON ({exc}).") from exc
            except Exception as exc:  # noqa: BLE001
                raise ProviderError(f"{MALFORMED}{type(exc).__name__}: {exc}") from exc

        for out in assembler.finish():
            yield out

    def _request_error(self, exc: openai.OpenAIError) -> ProviderError:
        if isinstance(exc, openai.RateLimitError):
            message = f"The model server is rate limiting requests: {_server_message(exc)}"
            return ProviderError(message, "rate_limit_exceeded")
        if isinstance(exc, openai.APIStatusError):
            message = _server_message(exc)
            if exc.status_code in (400, 404, 422):
                return ProviderError(message, "invalid_prompt")
            return ProviderError(f"The model server answered {exc.status_code}: {message}", "server_error")
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError(f"The model server did not answer within {self.timeout:g} s.", "server_error")
        if isinstance(exc, openai.APIConnectionError):
            where = self.base_url or "the OpenAI API"
            return ProviderError(f"Could not connect to the model server at {where} ({_cause(exc)}).", "server_error")
        return ProviderError(f"The model server request failed: {exc}", "server_error")


def _server_message(exc: openai.APIStatusError) -> str:
    """The server's own words: ``error.message`` (OpenAI, Ollama), a top-level ``message``
    (vLLM), ``detail`` (FastAPI), or the raw body."""
    body = exc.body
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"]
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return exc.message


def _rejects_field(exc: openai.APIStatusError, field: str) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    if body.get("param") == field:
        return True
    message = _server_message(exc).lower()
    return field in message and any(word in message for word in _REJECTION_WORDS)


def _cause(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    if cause is None:
        return type(exc).__name__
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__


def _malformed(what: str) -> ProviderError:
    return ProviderError(MALFORMED + what, "server_error")


def _optional(value: Any, kind: type, what: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise _malformed(f"{what} is a {type(value).__name__}, not a {kind.__name__}.")
    return value


class _Assembler:
    """Turns ``chat.completion.chunk`` objects into protocol chunks, checking the fields it
    uses (the SDK builds the objects without validation, so missing fields are ``None``
    and wrong types pass through)."""

    def __init__(self) -> None:
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self._sent_id: dict[int, bool] = {}
        self._sent_name: dict[int, bool] = {}
        self._index_of_id: dict[str, int] = {}
        self._last_index: int | None = None

    def feed(self, chunk: Any) -> list[Chunk]:
        if not isinstance(chunk, openai.BaseModel):
            raise _malformed(f"a chunk is a JSON {type(chunk).__name__}, not an object.")
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = self._usage(usage)
        choices = getattr(chunk, "choices", None)
        if choices is None:
            if usage is None:
                raise _malformed("a chunk has no 'choices'.")
            return []
        _optional(choices, list, "'choices'")
        out: list[Chunk] = []
        for choice in choices:
            if not isinstance(choice, openai.BaseModel):
                raise _malformed("a choice is not an object.")
            if getattr(choice, "index", None) not in (0, None):
                continue  # we ask for one choice (n=1)
            finish = _optional(getattr(choice, "finish_reason", None), str, "'finish_reason'")
            delta = getattr(choice, "delta", None)
            if delta is None:
                if finish is None:
                    raise _malformed("a choice has neither a 'delta' nor a 'finish_reason'.")
            elif not isinstance(delta, openai.BaseModel):
                raise _malformed("a choice's 'delta' is not an object.")
            else:
                out += self._delta(delta)
            if finish:
                self.finish_reason = finish
        return out

    def _delta(self, delta: Any) -> list[Chunk]:
        out: list[Chunk] = []
        for name in ("content", "refusal"):
            text = _optional(getattr(delta, name, None), str, f"'delta.{name}'")
            if text:
                out.append(TextDelta(text))
        tool_calls = _optional(getattr(delta, "tool_calls", None), list, "'delta.tool_calls'")
        for call in tool_calls or ():
            if not isinstance(call, openai.BaseModel):
                raise _malformed("a tool call is not an object.")
            call_id = _optional(getattr(call, "id", None), str, "a tool call's 'id'")
            function = getattr(call, "function", None)
            if function is not None and not isinstance(function, openai.BaseModel):
                raise _malformed("a tool call's 'function' is not an object.")
            name = _optional(getattr(function, "name", None), str, "a tool call's 'function.name'")
            arguments = _optional(getattr(function, "arguments", None), str, "a tool call's 'function.arguments'")
            index = self._index(getattr(call, "index", None), call_id)
            piece = ToolCallDelta(
                index=index,
                id=call_id if call_id and not self._sent_id.get(index) else None,
                name=name if name and not self._sent_name.get(index) else None,
                arguments=arguments or "",
            )
            if piece.id:
                self._sent_id[index] = True
                self._index_of_id[piece.id] = index
            if piece.name:
                self._sent_name[index] = True
            if piece.id or piece.name or piece.arguments:
                out.append(piece)
        return out

    def _index(self, index: Any, call_id: str | None) -> int:
        if index is None:
            # A few servers leave out ``index``: a new id starts a new call, pieces without
            # an id continue the last one.
            if call_id is not None and call_id in self._index_of_id:
                index = self._index_of_id[call_id]
            elif call_id is not None:
                index = max(self._sent_id, default=-1) + 1
            else:
                index = self._last_index if self._last_index is not None else 0
        elif not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise _malformed(f"a tool call's 'index' is {index!r}, not a non-negative integer.")
        self._last_index = index
        return index

    @staticmethod
    def _usage(usage: Any) -> Usage:
        if not isinstance(usage, openai.BaseModel):
            raise _malformed("'usage' is not an object.")
        counts = []
        for name in ("prompt_tokens", "completion_tokens"):
            value = getattr(usage, name, None)
            if value is None:
                value = 0
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _malformed(f"'usage.{name}' is {value!r}, not a token count.")
            counts.append(value)
        return Usage(prompt_tokens=counts[0], completion_tokens=counts[1])

    def finish(self) -> list[Chunk]:
        if self.finish_reason is None:
            raise _malformed("it ended without a finish_reason.")
        out: list[Chunk] = [self.usage] if self.usage is not None else []
        return [*out, Finish(self.finish_reason)]
