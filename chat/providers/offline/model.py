"""The built-in offline model: deterministic, rule-based, no key and no network.

It is not a language model and says so. Its replies come from *skills*: small rules
that look at the request (the last message, the enabled tools) and return a reply,
either text or tool calls. The math skill solves equations with sympy; the tool issues
add skills that call their tools, through the same chunk protocol as a real model.
The reply is streamed token by token at a configurable pace so streaming is visible.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from chat.providers.base import Chunk, Finish, ModelRequest, TextDelta, ToolCallDelta, Usage

_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Split text into word/punctuation pieces; their count is this model's token count."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Reply:
    text: str = ""
    # (function name, JSON arguments) pairs, as a model would emit them.
    tool_calls: tuple[tuple[str, str], ...] = field(default_factory=tuple)


Skill = Callable[[ModelRequest], Reply | None]
_SKILLS: list[Skill] = []


def register_skill(skill: Skill, *, first: bool = False) -> Skill:
    """Add a skill; skills are tried in order and the first reply wins."""
    if skill not in _SKILLS:
        _SKILLS.insert(0, skill) if first else _SKILLS.append(skill)
    return skill


def last_message(request: ModelRequest) -> dict:
    return request.messages[-1] if request.messages else {"role": "user", "content": ""}


def message_text(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def answered_call(request: ModelRequest, name: str) -> dict | None:
    """The call to function ``name`` that the last (tool) message answers, or None."""
    message = last_message(request)
    if message.get("role") != "tool":
        return None
    for earlier in reversed(request.messages[:-1]):
        if earlier.get("role") == "assistant" and earlier.get("tool_calls"):
            for call in earlier["tool_calls"]:
                if call.get("id") == message.get("tool_call_id") and call["function"]["name"] == name:
                    return call
            return None
    return None


GREETING = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b", re.IGNORECASE)

CAPABILITIES = (
    "I'm the built-in offline model: a small rule-based tutor, not a language model. "
    "I can solve linear and quadratic equations step by step, simplify, expand and factor "
    "expressions, differentiate, integrate and do arithmetic. Try “Solve 3x + 11 = 14”."
)


def math_skill(request: ModelRequest) -> Reply | None:
    message = last_message(request)
    if message.get("role") != "user":
        return None
    from chat.providers.offline import mathtutor

    text = mathtutor.answer(message_text(message))
    return Reply(text=text) if text else None


def greeting_skill(request: ModelRequest) -> Reply | None:
    message = last_message(request)
    if message.get("role") == "user" and GREETING.match(message_text(message)):
        return Reply(text="Hello! " + CAPABILITIES)
    return None


def tool_result_skill(request: ModelRequest) -> Reply | None:
    """After tool outputs come back, report them plainly (tool skills may do better)."""
    message = last_message(request)
    if message.get("role") != "tool":
        return None
    outputs = [message_text(m) for m in request.messages if m.get("role") == "tool"]
    return Reply(text="The tool returned:\n\n" + "\n\n".join(f"```\n{o}\n```" for o in outputs[-4:]))


register_skill(greeting_skill)
register_skill(math_skill)
register_skill(tool_result_skill)


def fallback_reply(request: ModelRequest) -> Reply:
    return Reply(
        text=CAPABILITIES
        + " I couldn't find anything I know how to answer in your message; "
        "for open conversation, connect an OpenAI-compatible model server."
    )


def compose(request: ModelRequest) -> Reply:
    for skill in _SKILLS:
        reply = skill(request)
        if reply is not None:
            return reply
    return fallback_reply(request)


class OfflineProvider:
    name = "offline"

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        prompt_tokens = sum(len(tokenize(message_text(m))) + 3 for m in request.messages)
        # Skills may be slow (sympy, checking a user's JSON Schema): never on the event loop.
        reply = await sync_to_async(compose, thread_sensitive=False)(request)
        budget = request.max_tokens
        produced = 0
        finish = "stop"
        for piece in tokenize(reply.text):
            if budget is not None and produced >= budget:
                finish = "length"
                break
            if self.delay:
                await asyncio.sleep(self.delay)
            else:
                await asyncio.sleep(0)  # let the loop breathe, like a network stream would
            produced += 1
            yield TextDelta(piece)
        if finish == "stop" and reply.tool_calls:
            for index, (name, arguments) in enumerate(reply.tool_calls):
                # Deterministic, and distinct across the turns of one run.
                seed = f"{len(request.messages)}:{index}:{name}:{arguments}".encode()
                call_id = "call_" + hashlib.sha256(seed).hexdigest()[:24]
                yield ToolCallDelta(index=index, id=call_id, name=name)
                # Arguments stream in pieces, like a real model's.
                for start in range(0, len(arguments), 16):
                    yield ToolCallDelta(index=index, arguments=arguments[start : start + 16])
                produced += len(tokenize(arguments))
            finish = "tool_calls"
        yield Usage(prompt_tokens=prompt_tokens, completion_tokens=produced)
        yield Finish(finish)


def json_arguments(**kwargs) -> str:
    return json.dumps(kwargs, ensure_ascii=False)
