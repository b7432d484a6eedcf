"""Building the model request for a run: instructions, the thread's messages
(truncated as the run asks) and the tool calls this run has already made."""

from __future__ import annotations

from chat import tools
from chat.models import Message, Run, RunStep
from chat.providers.base import ModelRequest


class PromptTooLong(Exception):
    """Even the newest message does not fit in ``max_prompt_tokens``."""


def estimate_tokens(text: str) -> int:
    # Roughly four characters a token for English text with BPE tokenizers.
    return len(text) // 4 + 1


def _message_tokens(message: dict) -> int:
    return estimate_tokens(message.get("content") or "") + 4


def history(run: Run) -> list[dict]:
    rows = Message.objects.filter(thread_id=run.thread_id).exclude(run=run).order_by("seq")
    return [{"role": m.role, "content": m.text} for m in rows if m.text or m.role == Message.USER]


def truncate(messages: list[dict], run: Run, reserved: int) -> list[dict]:
    strategy = run.truncation_strategy or {}
    if strategy.get("type") == "last_messages" and strategy.get("last_messages"):
        messages = messages[-int(strategy["last_messages"]) :]
    if run.max_prompt_tokens:
        budget = run.max_prompt_tokens - reserved
        kept: list[dict] = []
        for message in reversed(messages):
            cost = _message_tokens(message)
            if cost > budget:
                break
            kept.append(message)
            budget -= cost
        if messages and not kept:
            raise PromptTooLong
        messages = kept[::-1]
    return messages


def run_turns(run: Run) -> list[dict]:
    """What this run has said and done so far, for the next turn after tool calls."""
    turns: list[dict] = []
    for step in RunStep.objects.filter(run=run).order_by("created_at"):
        if step.type == RunStep.MESSAGE_CREATION:
            message_id = step.step_details.get("message_creation", {}).get("message_id")
            message = Message.objects.filter(pk=message_id).first()
            if message and message.text:
                turns.append({"role": "assistant", "content": message.text})
        elif step.type == RunStep.TOOL_CALLS:
            calls, outputs = [], []
            for entry in step.step_details.get("tool_calls", []):
                name, arguments, output = tools.replay_entry(entry)
                calls.append({"id": entry["id"], "type": "function", "function": {"name": name, "arguments": arguments}})
                outputs.append({"role": "tool", "tool_call_id": entry["id"], "content": output or ""})
            if calls:
                turns.append({"role": "assistant", "content": None, "tool_calls": calls})
                turns.extend(outputs)
    return turns


def build_request(run: Run, *, max_tokens: int | None) -> ModelRequest:
    system = run.instructions
    if run.additional_instructions:
        system = f"{system}\n\n{run.additional_instructions}".strip()
    turns = run_turns(run)
    reserved = estimate_tokens(system) + sum(_message_tokens(t) for t in turns)
    messages = truncate(history(run), run, reserved)
    if system:
        messages.insert(0, {"role": "system", "content": system})
    messages.extend(turns)
    return ModelRequest(
        model=run.model,
        messages=messages,
        tools=tools.model_schemas(run.tools),
        temperature=run.temperature,
        top_p=run.top_p,
        max_tokens=max_tokens,
        response_format=run.response_format if isinstance(run.response_format, dict) else None,
        enabled_tools=tuple(t.get("type", "") for t in run.tools),
    )
