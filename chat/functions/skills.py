"""The offline model's function skills (registered by the app's ready()).

- Asked for a quiz while the assistant has ``display_quiz``, it writes one on the thread's
  topic and calls the function; when the answers come back it grades each one.
- With any other function, it calls it when the user's message asks for what the
  function's name and description say, with arguments built to satisfy its schema.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

from chat import tools
from chat.functions import quizzes
from chat.functions.schema import ARGUMENTS_MAX_CHARS, validation_errors
from chat.providers.base import ModelRequest
from chat.providers.offline.explain import is_explain_request
from chat.providers.offline.model import (
    Reply,
    json_arguments,
    last_message,
    message_text,
    register_skill,
    register_tool_caller,
    small_talk_reply,
)

QUIZ_REQUEST = re.compile(r"\bquiz(?:zes)?\b|\btest me\b|\bquestions? (?:for|to test) me\b|\bpractice questions?\b", re.I)
# At most this many calls in one turn (one per name the user lists).
MAX_PARALLEL_CALLS = 8
STOPWORDS = frozenset(
    "a an and are as at be by can could do does for from get give has have how i in is it its me my of on or "
    "please show tell that the their them then this to us was what when where which who will with would you your".split()
)


def function_tools(request: ModelRequest) -> dict[str, dict]:
    server_names = {tool.name for tool in tools.SERVER_TOOLS.values()}
    return {
        t["function"]["name"]: t["function"]
        for t in request.tools
        if t.get("type") == "function" and t["function"]["name"] not in server_names
    }


def _user_texts(request: ModelRequest) -> list[str]:
    return [message_text(m) for m in request.messages if m.get("role") == "user"]


# --- asking for a quiz ---------------------------------------------------------------------


NO_QUIZ_FUNCTION = (
    "I can't give a quiz in this conversation: this assistant has no quiz function "
    f"(`{quizzes.QUIZ_FUNCTION}`). Whoever set it up can add one in the assistant's settings."
)


def quiz_skill(request: ModelRequest) -> Reply | None:
    message = last_message(request)
    if message.get("role") != "user" or not QUIZ_REQUEST.search(message_text(message)):
        return None
    functions = function_tools(request)
    if quizzes.QUIZ_FUNCTION not in functions:
        # Said plainly rather than the generic fallback; an assistant with functions of its
        # own may have one that gives quizzes (the function skill's to call).
        return None if functions else Reply(text=NO_QUIZ_FUNCTION)
    topic, note = quizzes.quiz_topic(_user_texts(request), skip=_names_no_topic)
    quiz = quizzes.write_quiz(topic, "\n".join(_user_texts(request)))
    return Reply(
        text=f"Here's a short {topic} quiz. " + (f"{note} " if note else "")
        + "Answer the questions and send them back, and I'll grade them.",
        tool_calls=((quizzes.QUIZ_FUNCTION, json_arguments(**quiz)),),
    )


def _names_no_topic(text: str) -> bool:
    """A message that asks for a quiz without naming its topic, asks to explain, or is small
    talk: the quiz's topic is in the messages before it ("quiz me on geometry" names one)."""
    if QUIZ_REQUEST.search(text):
        return quizzes.topic_of_message(text) in (None, "other")
    return bool(is_explain_request(text) or small_talk_reply(text))


# --- answers coming back ----------------------------------------------------------------------


def _latest_outputs(request: ModelRequest) -> tuple[dict[str, dict], list[dict]]:
    """The calls of the last assistant tool-call turn, by id, and the tool outputs after it."""
    outputs: list[dict] = []
    for message in reversed(request.messages):
        if message.get("role") == "tool":
            outputs.insert(0, message)
        elif message.get("role") == "assistant" and message.get("tool_calls"):
            calls = {c["id"]: c["function"] for c in message["tool_calls"]}
            return calls, outputs
        else:
            break
    return {}, outputs


def _answers(output: str) -> list[str]:
    """Answers from a quiz output: a JSON list of strings or of {"answer": …}, or {"answers": […]}."""
    try:
        value = json.loads(output)
    except ValueError:
        return [output]
    if isinstance(value, dict):
        value = value.get("answers", value.get("responses", []))
    if not isinstance(value, list):
        return []
    return [str(item.get("answer", "")) if isinstance(item, dict) else str(item) for item in value]


def _error(output: str) -> str | None:
    try:
        value = json.loads(output)
    except ValueError:
        return None
    return str(value["error"]) if isinstance(value, dict) and "error" in value else None


def _quiz_of(call: dict) -> dict | None:
    """The quiz a call set (display_quiz or a quiz… function with a list of questions), or None."""
    if not quizzes.is_quiz_function(call.get("name", "")):
        return None
    try:
        quiz = json.loads(call.get("arguments") or "{}")
    except ValueError:
        quiz = None
    if call.get("name") == quizzes.QUIZ_FUNCTION:
        return quiz if isinstance(quiz, dict) else {}
    return quiz if isinstance(quiz, dict) and isinstance(quiz.get("questions"), list) else None


def quiz_grading_skill(request: ModelRequest) -> Reply | None:
    if last_message(request).get("role") != "tool":
        return None
    calls, outputs = _latest_outputs(request)
    if not any(_quiz_of(calls.get(o.get("tool_call_id"), {})) is not None for o in outputs):
        return None
    parts, grades = [], []
    for output in outputs:
        call = calls.get(output.get("tool_call_id"), {})
        content = message_text(output)
        quiz = _quiz_of(call)
        if quiz is None:
            parts.append(f"The {call.get('name', 'tool')} function returned:\n\n```\n{content}\n```")
            continue
        if problem := _error(content):
            parts.append(f"I couldn't show that quiz: {problem}")
            continue
        graded = quizzes.grading(quiz, _answers(content))
        parts.append(graded.text)
        if graded.checked:  # the score: right answers out of the questions my rules could check
            grades.append((output.get("tool_call_id"), graded.right, graded.checked))
    return Reply(text="\n\n".join(parts), grades=tuple(grades))


# --- any other function -----------------------------------------------------------------------


def _words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").lower())
    return {w[:5] for w in words if w not in STOPWORDS and len(w) > 2}


def matching_function(request: ModelRequest, text: str) -> dict | None:
    """The function whose name and description best match what the user asks, if any does."""
    asked = _words(text)
    best, best_score = None, 0
    for name, fn in function_tools(request).items():
        if name == quizzes.QUIZ_FUNCTION:
            continue
        name_words = _words(name)
        score = len(asked & (name_words | _words(fn.get("description", ""))))
        if name_words and name_words <= asked:
            score += 2
        if score > best_score:
            best, best_score = fn, score
    return best if best_score >= 2 else None


class _TooLarge(Exception):
    """The schema asks for more than a model's arguments may hold (huge minLength or minItems)."""


class _Values:
    """Values found in the user's message, handed out to the schema's fields in order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.budget = ARGUMENTS_MAX_CHARS
        self.numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", text)]
        quoted = re.findall(r"[\"“']([^\"”']+)[\"”']", text)
        names = re.findall(r"(?<!^)(?<![.!?]\s)\b([A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)*)", text)
        self.strings = quoted + [n for n in names if n.lower() not in STOPWORDS]

    def string(self, schema: dict) -> str:
        if schema.get("format") == "date":
            return date.today().isoformat()
        if schema.get("format") == "date-time":
            return datetime.now(UTC).replace(microsecond=0).isoformat()
        if schema.get("format") == "email":
            found = re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", self.text)
            return found[0] if found else "student@example.com"
        value = self.strings.pop(0) if self.strings else self.text.strip()
        value = value[: schema["maxLength"]] if "maxLength" in schema else value
        self.spend(max(len(value), schema.get("minLength", 0)))
        return value.ljust(schema.get("minLength", 0), "?")

    def spend(self, size: int) -> None:
        self.budget -= size
        if self.budget < 0:
            raise _TooLarge

    def number(self, schema: dict, integer: bool) -> float | int:
        value = self.numbers.pop(0) if self.numbers else schema.get("minimum", 1)
        if "minimum" in schema:
            value = max(value, schema["minimum"])
        if "maximum" in schema:
            value = min(value, schema["maximum"])
        return int(round(value)) if integer else value


def sample(schema: Any, values: _Values) -> Any:
    """A value satisfying ``schema``, filled from the user's words where they fit."""
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        lowered = values.text.lower()
        return next((v for v in schema["enum"] if str(v).lower() in lowered), schema["enum"][0])
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return sample(schema[key][0], values)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        wanted = schema.get("required") or list(props)
        return {name: sample(props[name], values) for name in wanted if name in props}
    if kind == "array":
        values.spend(max(1, schema.get("minItems", 1)))
        return [sample(schema.get("items", {}), values) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind in ("number", "integer"):
        return values.number(schema, kind == "integer")
    if kind == "boolean":
        return not re.search(r"\b(no|not|don't|without|false)\b", values.text, re.I)
    if kind == "null":
        return None
    return values.string(schema)


def arguments_for(fn: dict, text: str) -> str:
    """JSON arguments for ``fn`` filled from ``text``; ``{}`` when my rules cannot satisfy
    its schema (the user fills it in)."""
    schema = fn.get("parameters") or {"type": "object", "properties": {}}
    try:
        arguments = sample(schema, _Values(text))
        unusable = bool(validation_errors(schema, arguments))
    except _TooLarge:
        unusable = True
    return json.dumps({} if unusable else arguments, ensure_ascii=False)


def listed(text: str) -> list[str]:
    """The names a message lists together ("Paris, Rome and Oslo"), or [] for fewer than two."""
    strings = _Values(text).strings
    for start, first in enumerate(strings):
        items, position = [first], text.find(first) + len(first)
        for name in strings[start + 1 : start + MAX_PARALLEL_CALLS]:
            joined = re.compile(r"\s*(?:,\s*(?:and\s+)?|\band\s+|&\s*)" + re.escape(name)).match(text, position)
            if not joined:
                break
            items.append(name)
            position = joined.end()
        if len(items) > 1:
            return items
    return []


def _calls_for(fn: dict, text: str) -> list[str]:
    """One call's arguments per listed name when the function takes one name ("the weather
    in Paris and Oslo" is two calls, as a real model makes them in parallel); else one call."""
    items = listed(text)
    schema = fn.get("parameters") or {"type": "object", "properties": {}}
    values = _Values(text)
    before = len(values.strings)
    try:
        sample(schema, values)
    except _TooLarge:
        items = []
    if len(items) < 2 or before - len(values.strings) != 1:
        return [arguments_for(fn, text)]
    calls = []
    for item in items:
        values = _Values(text)
        values.strings = [item] + [s for s in values.strings if s not in items]
        arguments = sample(schema, values)
        if validation_errors(schema, arguments):
            return [arguments_for(fn, text)]
        calls.append(json.dumps(arguments, ensure_ascii=False))
    return calls


def _called_since_user(request: ModelRequest, name: str) -> list[str] | None:
    """The arguments of the calls to ``name`` made since the last user message, or None
    when the conversation is not in the middle of such calls."""
    called: list[str] = []
    for message in reversed(request.messages):
        if message.get("role") == "user":
            return called
        for call in message.get("tool_calls") or ():
            if call["function"]["name"] == name:
                called.append(call["function"].get("arguments") or "")
    return None


def function_skill(request: ModelRequest) -> Reply | None:
    message = last_message(request)
    if message.get("role") not in ("user", "tool"):
        return None
    texts = _user_texts(request)
    if not texts:
        return None
    fn = matching_function(request, texts[-1])
    if fn is None:
        return None
    calls = _calls_for(fn, texts[-1])
    if message.get("role") == "tool":
        # Back from some of the calls (one at a time when parallel calls are off): make the rest.
        done = _called_since_user(request, fn["name"]) or []
        calls = [arguments for arguments in calls if arguments not in done]
        if not done or not calls:
            return None
    return Reply(text="", tool_calls=tuple((fn["name"], arguments) for arguments in calls))


def forced_function_call(request: ModelRequest, name: str) -> str | None:
    """Arguments for function ``name`` when the run's tool_choice forces a call to it."""
    fn = function_tools(request).get(name)
    if fn is None:
        return None
    texts = _user_texts(request)
    if name == quizzes.QUIZ_FUNCTION:
        return json_arguments(**quizzes.write_quiz(quizzes.quiz_topic(texts, skip=_names_no_topic)[0], "\n".join(texts)))
    return arguments_for(fn, texts[-1] if texts else "")


def register() -> None:
    register_tool_caller(forced_function_call)
    register_skill("function", function_skill)
    register_skill("quiz_grading", quiz_grading_skill)
    register_skill("quiz", quiz_skill)
