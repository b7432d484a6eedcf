"""The one small protocol every model provider speaks.

The engine builds a :class:`ModelRequest` (chat-format messages, tool schemas,
sampling options) and iterates ``provider.stream(request)``, which yields
:data:`Chunk` objects. The engine never knows which provider it talks to.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ModelRequest:
    model: str
    # Chat Completions shaped messages: {"role": "system"|"user"|"assistant"|"tool", "content": str, ...}
    # assistant messages may carry "tool_calls"; tool messages carry "tool_call_id".
    messages: list[dict[str, Any]]
    # Chat Completions shaped tools: [{"type": "function", "function": {"name", "description", "parameters"}}]
    tools: list[dict[str, Any]] = field(default_factory=list)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    response_format: dict[str, Any] | None = None
    # Engine-side tool types enabled for this run ("code_interpreter", "file_search", "function").
    # Real models see them as function schemas in ``tools``; the offline model reads this to decide.
    enabled_tools: tuple[str, ...] = ()
    # Chat Completions' tool_choice for this turn: None (the server's default, "auto"),
    # "none", "auto", "required" or {"type": "function", "function": {"name": …}}.
    tool_choice: str | dict[str, Any] | None = None
    # False: at most one tool call in this turn.
    parallel_tool_calls: bool = True
    # Names of the files the code interpreter has in /mnt/data (attached for it), when it is on.
    code_files: tuple[str, ...] = ()

    def forced_tool(self) -> str | None:
        """The name of the tool this turn must call, if ``tool_choice`` names one."""
        if isinstance(self.tool_choice, dict):
            return (self.tool_choice.get("function") or {}).get("name")
        return None


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of one tool call. ``index`` identifies the call within the turn;
    ``id`` and ``name`` arrive on the first piece, ``arguments`` accumulate."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Grade:
    """A model's score for a quiz call answered in this turn's prompt (``tool_call_id``):
    ``score`` out of ``max_score``. Only a model that grades by rule sends it; the engine
    stores it on the quiz attempt with the turn's text as the feedback."""

    tool_call_id: str
    score: float
    max_score: float


@dataclass(frozen=True)
class Finish:
    """``reason`` is Chat Completions' finish_reason: stop | length | tool_calls | content_filter."""

    reason: str


Chunk = TextDelta | ToolCallDelta | Usage | Grade | Finish


class ProviderError(Exception):
    """A provider failed in a way the run should report as ``last_error``.

    ``code`` follows the Assistants API: ``server_error``, ``rate_limit_exceeded``
    or ``invalid_prompt``.
    """

    def __init__(self, message: str, code: str = "server_error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Provider(Protocol):
    name: str

    def stream(self, request: ModelRequest) -> AsyncIterator[Chunk]: ...
