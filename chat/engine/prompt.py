"""Building the model request for a run: instructions, the thread so far (its messages
and the tool calls and outputs of its earlier runs, truncated as the run asks) and the
tool calls this run has already made.

Tokens are counted with tiktoken (``chat.tokens``). The prompt always keeps the
instructions, this run's own turns and the latest user message; older turns are dropped,
oldest first, until it fits both ``max_prompt_tokens`` and the model's context window
(``MODEL_CONTEXT_WINDOWS``) minus room for the answer. A tool call is never separated
from its outputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import F

from chat import tokens, tools
from chat.files import code_interpreter_files
from chat.models import Message, Run, RunStep
from chat.prepared import Prepared
from chat.providers import OFFLINE_MODEL
from chat.providers.base import ModelRequest

DEFAULT_CONTEXT_WINDOW = 8192
# Published windows of OpenAI's model families; MODEL_CONTEXT_WINDOWS adds to and overrides
# them. Any other model (llama, mistral… as served) gets "*": servers such as Ollama often
# run with less than the model supports, so the default is small and safe.
KNOWN_CONTEXT_WINDOWS = {
    "gpt-3.5-turbo*": 16385,
    "gpt-4*": 8192,
    "gpt-4-turbo*": 128000,
    "gpt-4o*": 128000,
    "gpt-4.1*": 1047576,
    "gpt-5*": 400000,
    "o1*": 200000,
    "o3*": 200000,
    "o4*": 200000,
    "*": DEFAULT_CONTEXT_WINDOW,
}
# The offline model reads only the last messages; it has no window unless one is configured.
UNLIMITED = 2**31
# Room kept for the answer when the run sets no max_completion_tokens (at most a quarter
# of the window).
ANSWER_RESERVE = 4096
MAX_PROMPT_TOKENS = "max_prompt_tokens"
CONTEXT_WINDOW = "context_window"
NO_OUTPUT = json.dumps({"error": "This call got no output: the run ended before it finished."})


class PromptTooLong(Exception):
    """Even instructions, this run's turns and the latest user message do not fit."""

    def __init__(self, needed: int, budget: int, limit: str, model: str) -> None:
        self.needed, self.budget, self.limit = needed, budget, limit
        if limit == MAX_PROMPT_TOKENS:
            message = f"The prompt needs {needed:,} tokens; max_prompt_tokens leaves {budget:,}."
        else:
            message = (
                f"The prompt needs {needed:,} tokens, more than the {budget:,} that {model!r}'s context window "
                "leaves after room for the answer (MODEL_CONTEXT_WINDOWS)."
            )
        super().__init__(message)


def context_window(model: str) -> int:
    """The model's window: its exact name, else the longest matching ``prefix*``, else
    ``*``, in ``MODEL_CONTEXT_WINDOWS`` over the known OpenAI windows."""
    windows = {**KNOWN_CONTEXT_WINDOWS, **settings.MODEL_CONTEXT_WINDOWS}
    if model in windows:
        return windows[model]
    if model == OFFLINE_MODEL:
        return UNLIMITED
    prefixes = [key for key in windows if key.endswith("*") and key != "*" and model.startswith(key[:-1])]
    if prefixes:
        return windows[max(prefixes, key=len)]
    return windows.get("*", DEFAULT_CONTEXT_WINDOW)


def answer_reserve(window: int, max_tokens: int | None) -> int:
    if max_tokens:
        return min(max_tokens, window // 2)
    return min(ANSWER_RESERVE, window // 4)


@dataclass
class Unit:
    """Prompt messages that are kept or dropped together: one thread message, or one
    assistant turn of tool calls with all their outputs."""

    messages: list[dict]
    # A thread message (what truncation_strategy.last_messages counts).
    is_message: bool = False
    is_user: bool = False


def _message_unit(message: Message) -> Unit | None:
    if not message.text and message.role != Message.USER:
        return None
    return Unit([{"role": message.role, "content": message.text}], is_message=True, is_user=message.role == Message.USER)


def _tool_unit(step: RunStep) -> Unit | None:
    calls, outputs = [], []
    for entry in step.step_details.get("tool_calls", []):
        name, arguments, output = tools.replay_entry(entry)
        calls.append({"id": entry["id"], "type": "function", "function": {"name": name, "arguments": arguments}})
        outputs.append({"role": "tool", "tool_call_id": entry["id"], "content": NO_OUTPUT if output is None else output})
    if not calls:
        return None
    return Unit([{"role": "assistant", "content": None, "tool_calls": calls}, *outputs])


def _step_units(steps: list[RunStep], messages: dict[str, Message]) -> list[Unit]:
    units = []
    for step in steps:
        if step.type == RunStep.MESSAGE_CREATION:
            message = messages.get(step.created_message_id)
            unit = _message_unit(message) if message is not None else None
        else:
            unit = _tool_unit(step)
        if unit is not None:
            units.append(unit)
    return units


# Read for every run's prompt (see ThreadRows), each compiled once (chat.prepared).
_messages_of = Prepared(
    Message, lambda thread_id: Message.objects.filter(thread_id=thread_id).order_by("seq"), thread_id=str
)
_steps_until = Prepared(
    RunStep,
    lambda thread_id, created_at: (
        RunStep.objects.filter(run__thread_id=thread_id, run__created_at__lte=created_at)
        .annotate(run_created_at=F("run__created_at"))
        .order_by("run__created_at", "run_id", "created_at")
    ),
    thread_id=str,
    created_at=datetime,
)


@dataclass
class ThreadRows:
    """What a prompt reads of its thread, in two queries: the messages, in order, and the
    steps of this run and of the runs created before it, ordered by run then step, each
    with its run's creation time (``run_created_at``): a run without steps adds nothing."""

    messages: list[Message]
    steps: list[RunStep]

    @classmethod
    def read(cls, run: Run) -> ThreadRows:
        return cls(
            messages=_messages_of(thread_id=run.thread_id),
            steps=_steps_until(thread_id=run.thread_id, created_at=run.created_at),
        )


def _answers_all_removed(steps: list[RunStep], messages: dict[str, Message]) -> bool:
    """The run answered, and every answer it gave has since been removed (answered again,
    its question edited, deleted through /v1). A run that never answered (cancelled
    between tool calls) is not one of these."""
    answers = [s.created_message_id for s in steps if s.type == RunStep.MESSAGE_CREATION]
    return bool(answers) and not any(answer in messages for answer in answers)


def history(run: Run, rows: ThreadRows) -> list[Unit]:
    """The thread before this run, in order: its messages, with each earlier run's steps
    (answers, tool calls and their outputs) where that run happened. A run whose answers
    were all removed is left out whole: its tool calls and outputs went with its answer,
    or the model would repeat the discarded answer's results instead of working anew."""
    by_id = {m.id: m for m in rows.messages}
    runs: dict[str, tuple[object, list[RunStep]]] = {}  # earlier run id -> (its created_at, its steps)
    for step in rows.steps:
        if step.run_id != run.id:
            runs.setdefault(step.run_id, (step.run_created_at, []))[1].append(step)
    runs = {run_id: entry for run_id, entry in runs.items() if not _answers_all_removed(entry[1], by_id)}
    shown_by_steps = {s.created_message_id for _, run_steps in runs.values() for s in run_steps if s.type == RunStep.MESSAGE_CREATION}
    units: list[Unit] = []
    pending = list(runs.values())
    for message in rows.messages:
        if message.run_id == run.id:
            continue  # this run's own answers are its turns (run_turns)
        # A run comes after the messages saved before it was created (ties: the message first).
        while pending and pending[0][0] < message.created_at:
            units += _step_units(pending.pop(0)[1], by_id)
        if message.id in shown_by_steps:
            continue  # placed with its run's steps
        unit = _message_unit(message)
        if unit is not None:
            units.append(unit)
    for _, earlier in pending:
        units += _step_units(earlier, by_id)
    return units


def run_turns(run: Run, rows: ThreadRows) -> list[dict]:
    """What this run has said and done so far, for the next turn after tool calls."""
    steps = [s for s in rows.steps if s.run_id == run.id]
    messages = {m.id: m for m in rows.messages if m.run_id == run.id}
    return [message for unit in _step_units(steps, messages) for message in unit.messages]


def _last_messages(units: list[Unit], count: int) -> list[Unit]:
    """The units from the ``count``-th last thread message on."""
    seen = 0
    for index in range(len(units) - 1, -1, -1):
        if units[index].is_message:
            seen += 1
            if seen == count:
                return units[index:]
    return units


def truncate(units: list[Unit], run: Run, fixed: int, window_budget: int) -> list[dict]:
    """Drop the oldest units until the prompt fits; ``fixed`` is what is always sent."""
    strategy = run.truncation_strategy or {}
    if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
        units = _last_messages(units, int(strategy["last_messages"]))
    limit, budget = CONTEXT_WINDOW, window_budget
    if run.max_prompt_tokens and run.max_prompt_tokens <= budget:
        limit, budget = MAX_PROMPT_TOKENS, run.max_prompt_tokens
    latest_user = max((i for i, u in enumerate(units) if u.is_user), default=len(units) - 1)
    used, first_kept = fixed, len(units)
    for index in range(len(units) - 1, -1, -1):
        cost = sum(tokens.message_tokens(m, run.model) for m in units[index].messages)
        if used + cost > budget:
            break
        used += cost
        first_kept = index
    if fixed > budget or (units and first_kept > latest_user):
        needed = used + sum(
            tokens.message_tokens(m, run.model) for u in units[latest_user:first_kept] for m in u.messages
        )
        raise PromptTooLong(needed, budget, limit, run.model)
    return [message for unit in units[first_kept:] for message in unit.messages]


def turn_tool_choice(run: Run, has_tools: bool, called: bool) -> str | dict | None:
    """The Chat Completions ``tool_choice`` for this turn. As the hosted API documented,
    ``required`` (or a named tool) means the model must call a tool *before responding*:
    once this run has called one, the model chooses freely; ``none`` holds for every turn."""
    choice = run.tool_choice
    if choice is None or not has_tools:
        return None
    if choice in ("none", "auto"):
        return choice
    if called:
        return "auto"
    if choice == "required":
        return "required"
    name = tools.forced_tool_name(choice, run.tools)
    return {"type": "function", "function": {"name": name}} if name else "auto"


def build_request(run: Run, *, max_tokens: int | None, rows: ThreadRows | None = None) -> ModelRequest:
    """``rows``: the thread's, when the caller has read them (the engine's claim, which
    also takes the run's questions from them)."""
    system = run.instructions
    if run.additional_instructions:
        system = f"{system}\n\n{run.additional_instructions}".strip()
    head = [{"role": "system", "content": system}] if system else []
    rows = rows if rows is not None else ThreadRows.read(run)
    turns = run_turns(run, rows)
    schemas = tools.model_schemas(run.tools)
    window = context_window(run.model)
    fixed = tokens.prompt_tokens(head + turns, run.model, schemas)
    messages = truncate(history(run, rows), run, fixed, window - answer_reserve(window, max_tokens))
    return ModelRequest(
        model=run.model,
        messages=head + messages + turns,
        tools=schemas,
        temperature=run.temperature,
        top_p=run.top_p,
        max_tokens=max_tokens,
        response_format=run.response_format if isinstance(run.response_format, dict) else None,
        enabled_tools=tuple(t.get("type", "") for t in run.tools),
        tool_choice=turn_tool_choice(run, bool(schemas), any(t.get("role") == "tool" for t in turns)),
        parallel_tool_calls=run.parallel_tool_calls,
        code_files=_code_files(run),
    )


def _code_files(run: Run) -> tuple[str, ...]:
    if not any(t.get("type") == "code_interpreter" for t in run.tools):
        return ()
    return tuple(code_interpreter_files(run.assistant, run.thread).values_list("filename", flat=True))
