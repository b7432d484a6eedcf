"""Runs a person resumes: the answers to a run's pending function calls (a quiz's), the
same rule for the browser's quiz form and /v1's submit_tool_outputs."""

from __future__ import annotations

from chat.access import assistants_for_thread
from chat.engine import runs as engine_runs
from chat.models import Run
from chat.services import Refused

CONVERSATION_CLOSED = (
    "Nothing was sent: this conversation is closed (its assistant is no longer available here, "
    "for example because the tutor unpublished it), so it cannot take answers any more. You can still read it."
)


def submit_tool_outputs(run: Run, outputs: list[dict], *, start: bool = True) -> Run:
    """Resume ``run`` with one output per pending call, if its assistant may still answer
    on the thread: a withdrawn assistant (unpublished, class archived, student gone) must
    not grade or go on. Raises ``chat.engine.runs.InvalidToolOutputs`` for outputs that do
    not match the pending calls."""
    thread = run.thread
    if run.assistant_id is None or not assistants_for_thread(thread.owner, thread).filter(pk=run.assistant_id).exists():
        raise Refused(CONVERSATION_CLOSED, param="tool_outputs")
    return engine_runs.submit_tool_outputs(run, outputs, start=start)
