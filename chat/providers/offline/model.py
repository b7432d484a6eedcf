"""The built-in offline model: deterministic, rule-based, no key and no network.

It is not a language model and says so. Its replies come from *skills*: small rules
that look at the request (the last message, the enabled tools) and return a reply,
either text or tool calls. The math skill solves equations with sympy; the tool issues
add skills that call their tools, through the same chunk protocol as a real model.
The reply is streamed token by token at a configurable pace so streaming is visible.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async

from chat import ids, tokens
from chat.providers.base import Chunk, Finish, Grade, ModelRequest, TextDelta, ToolCallDelta, Usage

_TOKEN = re.compile(r"\s*\w+|\s*[^\w\s]|\s+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Split text into word/punctuation pieces; their count is this model's token count."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Reply:
    text: str = ""
    # (function name, JSON arguments) pairs, as a model would emit them.
    tool_calls: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # (tool_call_id, score, max_score) for quizzes this reply grades.
    grades: tuple[tuple[str, int, int], ...] = field(default_factory=tuple)


Skill = Callable[[ModelRequest], Reply | None]

# The order skills are tried in; the first reply wins. Stated here, once, so it never
# depends on which app (or module) happened to be loaded first: each app registers its
# skills by name in its AppConfig.ready().
SKILL_ORDER = (
    "code_interpreter",  # a program or a recipe ("plot y = x^2") before math reads it as an equation
    "quiz",  # "quiz me on ..." asks for display_quiz, not a search or a solution
    "quiz_grading",  # the quiz form's answers come back as a tool result to grade
    "function",  # the run's own function tools, matched on the request
    "file_search",  # attached files, before the built-ins; leaves "why?" to explain
    "explain",  # "why?" is about the last answer, not a new problem for math
    "greeting",
    "math",
    "tool_result",  # last: any tool output no skill above reported better
)


class Registry:
    """Plug-ins registered by name, handed out in a fixed order whatever order they came in."""

    def __init__(self, order: tuple[str, ...]):
        self.order = order
        self._by_name: dict[str, Callable] = {}

    def register(self, name: str, plugin: Callable) -> Callable:
        if name not in self.order:
            raise ValueError(f"{name!r} has no place in {self.order}; add it there")
        self._by_name[name] = plugin
        return plugin

    def names(self) -> list[str]:
        return [name for name in self.order if name in self._by_name]

    def __iter__(self):
        return iter([self._by_name[name] for name in self.names()])


SKILLS = Registry(SKILL_ORDER)


def register_skill(name: str, skill: Skill) -> Skill:
    """Add a skill at its place in SKILL_ORDER."""
    return SKILLS.register(name, skill)


def last_message(request: ModelRequest) -> dict:
    return request.messages[-1] if request.messages else {"role": "user", "content": ""}


def message_text(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


# What Markdown reads inside a line (emphasis, code, links, escapes, tables, raw HTML,
# strikethrough), and what it reads at the start of one (headings, quotes, list items).
_MARKDOWN_INLINE = re.compile(r"[*_`\\<>|~]|\]\(")
_MARKDOWN_LINE_START = re.compile(r"^\s*(?:[-+*>#=]|\d+[.)])(?:\s|$)")


def literal(text: str) -> str:
    """``text`` written so that Markdown shows it exactly: as it is when Markdown would read
    nothing in it, else as inline code (a formula such as ``2x*cos(x)`` or a program's
    output line). The offline model's own plain text must never be misread as markup."""
    if not _MARKDOWN_INLINE.search(text) and not _MARKDOWN_LINE_START.match(text):
        return text
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if fence == "``" or text.startswith(" ") else f"{fence}{text}{fence}"


# A sentence already ends when its last word is followed by . ! ? or … (and maybe closing
# marks: a code span's backtick, emphasis, a bracket or a quotation mark).
_ENDED = re.compile(r"[.!?…][`*_)\]”’\"']*$")


def full_stop(text: str) -> str:
    """``text`` ending its sentence exactly once: a period is added only when it has no end
    of its own ("…was stopped." or "…its solutions." written into a reply stay single)."""
    text = text.rstrip()
    return text if not text or _ENDED.search(text) else text + "."


QUOTE_LIMIT = 100  # characters of the user's words an answer quotes back


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    """The user's words to quote back in a reply: on one line, and at most about ``limit``
    characters (cut at a word, with an ellipsis): a 30,000-character question is not echoed."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if " " in cut[limit // 2 :]:  # end at a whole word, unless that loses half
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"


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
    "expressions, differentiate, integrate, take limits and do arithmetic. Try “Solve 3x + 11 = 14”."
)


# A message that is only small talk: thanks, an acknowledgement, a greeting or a goodbye
# (with punctuation or an emoji). Words only: "thanks, now solve 2x = 4" is a question.
_THANKS = r"thanks?|thank\s+you|thx|ty|cheers|much\s+appreciated|appreciate\s+it"
_OK = r"ok(?:ay)?|k|kk|cool|great|nice|perfect|awesome|good|got\s+it|i\s+see|understood|makes\s+sense|alright"
_BYE = r"bye|goodbye|see\s+you(?:\s+later)?|good\s*night"
_HELLO = r"hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)"
_SMALL_TALK_WORD = rf"(?:{_THANKS}|{_OK}|{_BYE}|{_HELLO})(?:\s+(?:so\s+much|very\s+much|a\s+lot|again|there|all))?"
SMALL_TALK = re.compile(rf"[^\w]*{_SMALL_TALK_WORD}(?:[^\w]+{_SMALL_TALK_WORD})*[^\w]*", re.IGNORECASE)


def small_talk_reply(text: str) -> str | None:
    """A short friendly reply to a message that is only small talk, else None."""
    if len(text) > 80 or not SMALL_TALK.fullmatch(text):
        return None
    lowered = text.lower()
    if re.search(rf"\b(?:{_THANKS})\b", lowered):
        return "You're welcome! Ask me anything else whenever you like."
    if re.search(rf"\b(?:{_BYE})\b", lowered):
        return "Goodbye! Come back any time."
    if re.search(rf"\b(?:{_HELLO})\b", lowered):
        return "Hello! " + CAPABILITIES
    return "Glad that helps. What would you like to do next?"


def math_skill(request: ModelRequest) -> Reply | None:
    message = last_message(request)
    if message.get("role") != "user":
        return None
    from chat.providers.offline import mathtutor

    text = mathtutor.answer(message_text(message))
    return Reply(text=text) if text else None


def greeting_skill(request: ModelRequest) -> Reply | None:
    """A message that starts with a greeting: the answer to the question after it ("hi, what
    is 2+2?"), else what this model can do. (A greeting alone is small talk, answered before.)"""
    message = last_message(request)
    if message.get("role") != "user" or not GREETING.match(message_text(message)):
        return None
    question = math_skill(request)
    return Reply(text="Hello!\n\n" + question.text) if question else Reply(text="Hello! " + CAPABILITIES)


def tool_result_skill(request: ModelRequest) -> Reply | None:
    """After tool outputs come back, report them plainly (tool skills may do better)."""
    message = last_message(request)
    if message.get("role") != "tool":
        return None
    outputs = []  # this turn's outputs only: earlier runs' are in the prompt too
    for earlier in reversed(request.messages):
        if earlier.get("role") != "tool":
            break
        outputs.insert(0, message_text(earlier))
    return Reply(text="The tool returned:\n\n" + "\n\n".join(f"```\n{o}\n```" for o in outputs[-4:]))


def register_builtin_skills() -> None:
    register_skill("greeting", greeting_skill)
    register_skill("math", math_skill)
    register_skill("tool_result", tool_result_skill)


def fallback_reply(request: ModelRequest) -> Reply:
    # Said to whoever asks: a student cannot connect a model server; whoever set it up can.
    return Reply(
        text=CAPABILITIES
        + " I couldn't find anything I know how to answer in your message. Open conversation needs "
        "a language model server, which whoever set up this assistant can connect."
    )


# Arguments for a call to a tool that a run's tool_choice forces when no skill's rule
# asked for it: (request, tool name) -> JSON arguments, or None for a tool it does not know.
ToolCaller = Callable[[ModelRequest, str], str | None]
_TOOL_CALLERS: list[ToolCaller] = []


def register_tool_caller(caller: ToolCaller) -> ToolCaller:
    if caller not in _TOOL_CALLERS:
        _TOOL_CALLERS.append(caller)
    return caller


def tool_names(request: ModelRequest) -> list[str]:
    return [t["function"]["name"] for t in request.tools if t.get("type") == "function"]


def forced_call(request: ModelRequest, name: str) -> tuple[str, str]:
    """A call to ``name`` with arguments its tool's caller builds from the conversation
    (``{}`` when no caller knows the tool)."""
    for caller in _TOOL_CALLERS:
        arguments = caller(request, name)
        if arguments is not None:
            return name, arguments
    return name, "{}"


def _replies(request: ModelRequest):
    # Small talk first: "thanks!" needs no tool, and is no query to search the files for.
    message = last_message(request)
    if message.get("role") == "user" and (chat := small_talk_reply(message_text(message))):
        yield Reply(text=chat)
    for skill in SKILLS:
        reply = skill(request)
        if reply is not None:
            yield reply


def _without_tools(request: ModelRequest) -> Reply:
    """tool_choice "none": the first reply that calls no tool; where a tool was needed,
    say so instead of calling it."""
    wanted: list[str] = []
    for reply in _replies(request):
        if not reply.tool_calls:
            return reply
        for name, _arguments in reply.tool_calls:
            if name not in wanted:
                wanted.append(name)
    if wanted:
        return Reply(
            text=f"To answer this I would use {' and '.join(wanted)}, but this run asked me not to call "
            "any tools (tool_choice \"none\"), and I can't answer it without them."
        )
    return fallback_reply(request)


def _with_a_tool(request: ModelRequest, name: str | None) -> Reply:
    """tool_choice "required" (``name`` None) or a named tool: the first reply that calls
    it; else a call to it (or to the run's first tool) with arguments its caller builds."""
    for reply in _replies(request):
        calls = tuple(c for c in reply.tool_calls if name is None or c[0] == name)
        if calls:
            return Reply(text=reply.text, tool_calls=calls)
    name = name or tool_names(request)[0]
    return Reply(tool_calls=(forced_call(request, name),))


def compose(request: ModelRequest) -> Reply:
    choice = request.tool_choice
    if choice == "none":
        reply = _without_tools(request)
    elif request.tools and (choice == "required" or request.forced_tool()):
        reply = _with_a_tool(request, request.forced_tool())
    else:
        reply = next(_replies(request), None) or fallback_reply(request)
    if not request.parallel_tool_calls and len(reply.tool_calls) > 1:
        reply = Reply(text=reply.text, tool_calls=reply.tool_calls[:1])
    if reply.text and asks_for_json(request):
        reply = Reply(
            text=json.dumps({"answer": reply.text}, ensure_ascii=False),
            tool_calls=reply.tool_calls,
            grades=reply.grades,
        )
    return reply


def asks_for_json(request: ModelRequest) -> bool:
    """A run whose response_format asks for JSON (``json_object``, or ``json_schema``,
    whose schema this model does not follow) gets its text as ``{"answer": "<text>"}``:
    the same answer, in a JSON object the caller's ``json.loads`` reads."""
    kind = (request.response_format or {}).get("type")
    return kind in ("json_object", "json_schema")


def _answer(request: ModelRequest) -> tuple[Reply, int]:
    return compose(request), tokens.prompt_tokens(request.messages, request.model, request.tools)


class OfflineProvider:
    name = "offline"

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay

    async def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]:
        # Skills may be slow (sympy, checking a user's JSON Schema), and so may counting a
        # long prompt (or loading the tokenizer the first time): never on the event loop.
        reply, prompt_tokens = await sync_to_async(_answer, thread_sensitive=False)(request)
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
                # Random like the hosted API's: unique across runs, threads and users.
                yield ToolCallDelta(index=index, id=ids.new_call_id(), name=name)
                # Arguments stream in pieces, like a real model's.
                for start in range(0, len(arguments), 16):
                    yield ToolCallDelta(index=index, arguments=arguments[start : start + 16])
                produced += len(tokenize(arguments))
            finish = "tool_calls"
        if finish == "stop":
            for call_id, score, max_score in reply.grades:
                yield Grade(call_id, score, max_score)
        yield Usage(prompt_tokens=prompt_tokens, completion_tokens=produced)
        yield Finish(finish)


def json_arguments(**kwargs) -> str:
    return json.dumps(kwargs, ensure_ascii=False)
