"""Tools a run can call.

Server tools (code_interpreter, file_search: their own issues) run inside the engine
and are registered here with ``register``. Function tools are not run here: the run
pauses in ``requires_action`` until the caller submits their outputs.

Each tool call is kept in a ``tool_calls`` run step in the Assistants shape; a tool
also knows how to turn that entry back into what the model sees on the next turn.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

FUNCTION = "function"


@dataclass(frozen=True)
class ToolCall:
    """One call as the model made it (Chat Completions terms)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolResult:
    output: str  # what the model reads on the next turn
    details: dict[str, Any]  # the step's tool-call entry, in the Assistants shape


@dataclass(frozen=True)
class ServerTool:
    type: str
    # The function schema a model sees (Chat Completions "tools" entry).
    schema: dict[str, Any]
    run: Callable[[Any, ToolCall], Awaitable[ToolResult]]
    # Step entry -> (arguments, output) as the model saw them, to rebuild the prompt.
    replay: Callable[[dict[str, Any]], tuple[str, str]]
    # The step entry to show while the call is still running.
    pending: Callable[[ToolCall], dict[str, Any]]

    @property
    def name(self) -> str:
        return self.schema["function"]["name"]


SERVER_TOOLS: dict[str, ServerTool] = {}


def register(tool: ServerTool) -> ServerTool:
    SERVER_TOOLS[tool.type] = tool
    return tool


def server_tool_named(name: str, run_tools: list[dict]) -> ServerTool | None:
    enabled = {t.get("type") for t in run_tools}
    for tool in SERVER_TOOLS.values():
        if tool.name == name and tool.type in enabled:
            return tool
    return None


def forced_tool_name(choice: dict, run_tools: list[dict]) -> str | None:
    """The function name a model sees for a named ``tool_choice``: the function's own
    name, or the name a hosted tool is exposed as ({"type": "file_search"} -> file_search).
    None when the run does not have that tool."""
    kind = choice.get("type")
    if kind == FUNCTION:
        name = (choice.get("function") or {}).get("name")
        return name if name in function_names(run_tools) else None
    tool = SERVER_TOOLS.get(kind)
    if tool is not None and kind in {t.get("type") for t in run_tools}:
        return tool.name
    return None


def function_names(run_tools: list[dict]) -> set[str]:
    return {t["function"]["name"] for t in run_tools if t.get("type") == FUNCTION and "function" in t}


# How a function call's arguments are checked against the function's schema: function
# calling's ``schema.check_arguments``, registered in its AppConfig.ready().
ArgumentCheck = Callable[[dict, str], Awaitable["str | None"]]
_argument_check: ArgumentCheck | None = None


def register_argument_check(check: ArgumentCheck) -> None:
    global _argument_check
    _argument_check = check


async def invalid_function_call(run_tools: list[dict], call: ToolCall) -> str | None:
    """Why a function call's arguments are unusable (not JSON, or not matching the
    function's schema), as a JSON error output for the model; None when they are fine."""
    if _argument_check is None:
        return None
    for tool in run_tools:
        if tool.get("type") == FUNCTION and tool.get("function", {}).get("name") == call.name:
            problem = await _argument_check(tool["function"], call.arguments)
            return json.dumps({"error": problem, "invalid_arguments": True}) if problem else None
    return None


def model_schemas(run_tools: list[dict]) -> list[dict[str, Any]]:
    """The tools list sent to the model for a run's enabled tools."""
    schemas = []
    for tool in run_tools:
        kind = tool.get("type")
        if kind == FUNCTION:
            fn = tool["function"]
            entry = {"name": fn["name"], "parameters": fn.get("parameters") or {"type": "object", "properties": {}}}
            if fn.get("description"):
                entry["description"] = fn["description"]
            if fn.get("strict") is not None:
                entry["strict"] = fn["strict"]
            schemas.append({"type": "function", "function": entry})
        elif kind in SERVER_TOOLS:
            schemas.append(SERVER_TOOLS[kind].schema)
    return schemas


def function_entry(call: ToolCall, output: str | None = None) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": FUNCTION,
        "function": {"name": call.name, "arguments": call.arguments, "output": output},
    }


def replay_entry(entry: dict[str, Any]) -> tuple[str, str, str | None]:
    """(name, arguments, output) of a step's tool-call entry, as the model saw it."""
    kind = entry.get("type")
    if kind == FUNCTION:
        fn = entry["function"]
        return fn["name"], fn.get("arguments") or "", fn.get("output")
    tool = SERVER_TOOLS.get(kind)
    if tool is None:
        return kind or "unknown", "{}", json.dumps({"error": "This tool is no longer available."})
    arguments, output = tool.replay(entry)
    return tool.name, arguments, output


# Passes over an assistant message's final content parts, (run, content) -> content: a tool
# attaches what it produced (code_interpreter's images, file_path annotations) here.
CONTENT_HOOKS: list[Callable[[Any, list[dict]], list[dict]]] = []


def finish_content(run: Any, content: list[dict]) -> list[dict]:
    for hook in CONTENT_HOOKS:
        content = hook(run, content)
    return content
