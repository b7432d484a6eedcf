"""A provider that plays back scripted turns: our own provider protocol, not the SDK.

(The OpenAI-compatible provider is tested against a real HTTP server in
tests/providers; the engine tests need exact control of chunks and timing.)
"""

from __future__ import annotations

import asyncio

from chat.providers.base import Finish, ModelRequest, TextDelta, ToolCallDelta, Usage


class ScriptedProvider:
    name = "scripted"

    def __init__(self, *turns, delay: float = 0.0) -> None:
        self.turns = list(turns)
        self.requests: list[ModelRequest] = []
        self.delay = delay
        self.started = asyncio.Event()

    async def stream(self, request: ModelRequest):
        self.requests.append(request)
        turn = self.turns.pop(0)
        for item in turn:
            if self.delay:
                await asyncio.sleep(self.delay)
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, str):
                item = TextDelta(item)
            self.started.set()
            yield item


def text_turn(*pieces: str, prompt: int = 10) -> list:
    return [*pieces, Usage(prompt, len(pieces)), Finish("stop")]


def call_turn(*calls: tuple[str, str, str]) -> list:
    chunks: list = []
    for index, (call_id, name, arguments) in enumerate(calls):
        chunks.append(ToolCallDelta(index=index, id=call_id, name=name))
        chunks.append(ToolCallDelta(index=index, arguments=arguments[: len(arguments) // 2]))
        chunks.append(ToolCallDelta(index=index, arguments=arguments[len(arguments) // 2 :]))
    return [*chunks, Usage(20, 5), Finish("tool_calls")]


def use(monkeypatch, provider) -> None:
    monkeypatch.setattr("chat.engine.executor.get_provider", lambda model: provider)
