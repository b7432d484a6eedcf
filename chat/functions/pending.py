"""The pending-action area of a thread: the forms for a run's pending function calls.

Rendered into the thread page (``{% pending_action %}``) and, out of band, with every run
panel the consumer pushes, so the forms appear the moment a run enters requires_action
and turn into a disabled form with a note when it expires or is cancelled.
"""

from __future__ import annotations

import json

from django.template.loader import render_to_string

from chat.access import assistant_withdrawn
from chat.engine import states
from chat.functions.forms import CallForm
from chat.models import Run, RunStep, Thread

TEMPLATE = "functions/pending.html"


def _last_tool_step(run: Run, steps: list[RunStep] | None) -> RunStep | None:
    steps = [s for s in (run.steps.all() if steps is None else steps) if s.type == RunStep.TOOL_CALLS]
    return steps[-1] if steps else None


def waiting_calls(run: Run | None, steps: list[RunStep] | None = None) -> list[dict]:
    """The calls the run waits for (requires_action), or waited for when it expired or was cancelled."""
    if run is None:
        return []
    if run.status == states.REQUIRES_ACTION and run.required_action:
        return run.required_action["submit_tool_outputs"]["tool_calls"]
    if run.status in (states.EXPIRED, states.CANCELLED):
        step = _last_tool_step(run, steps)
        if step is not None and step.status in (RunStep.EXPIRED, RunStep.CANCELLED):
            return [
                {"id": e["id"], "type": "function", "function": {"name": e["function"]["name"], "arguments": e["function"]["arguments"]}}
                for e in step.step_details.get("tool_calls", [])
                if e.get("type") == "function" and e["function"].get("output") is None
            ]
    return []


def call_error(output: str | None) -> str | None:
    """The error text of a call answered with an error (bad arguments, unknown tool), else None."""
    if not output:
        return None
    try:
        value = json.loads(output)
    except ValueError:
        return None
    return str(value["error"]) if isinstance(value, dict) and "error" in value else None


def rejected_calls(run: Run | None, steps: list[RunStep] | None = None) -> list[dict]:
    """Calls of the waiting step that were sent back to the model because their arguments were bad."""
    step = _last_tool_step(run, steps) if run is not None else None
    if step is None:
        return []
    rejected = []
    for entry in step.step_details.get("tool_calls", []):
        if entry.get("type") == "function" and (error := call_error(entry["function"].get("output"))):
            rejected.append({"name": entry["function"]["name"], "error": error})
    return rejected


def definitions(run: Run) -> dict[str, dict]:
    return {t["function"]["name"]: t["function"] for t in run.tools if t.get("type") == "function" and "function" in t}


def call_forms(run: Run | None, data=None, steps: list[RunStep] | None = None) -> list[CallForm]:
    calls = waiting_calls(run, steps)
    if not calls:
        return []
    known = definitions(run)
    return [CallForm(i, call, known.get(call["function"]["name"]), data) for i, call in enumerate(calls)]


def render_pending_action(
    thread: Thread, run: Run | None, *, oob: bool = False, forms: list[CallForm] | None = None, error: str = "",
    read_only: bool = False, steps: list[RunStep] | None = None,
) -> str:
    """``steps``: the run's steps when the caller has them (the socket's run panel), else
    ``run.steps.all()``."""
    forms = call_forms(run, steps=steps) if forms is None else forms
    open_ = run is not None and run.status == states.REQUIRES_ACTION
    context = {
        "thread": thread,
        "run": run,
        "forms": forms,
        "open": open_,
        "rejected": rejected_calls(run, steps) if open_ else [],
        "error": error,
        "oob": oob,
        "read_only": read_only,  # a tutor watching: the forms show, disabled, without buttons
        "has_quiz": any(f.is_quiz for f in forms),
        # Cancelled because its assistant left the conversation (chat.classes.services.unpublish):
        # the note says so, not that the student cancelled it.
        "withdrawn": bool(forms) and run.status == states.CANCELLED and assistant_withdrawn(run),
    }
    return render_to_string(TEMPLATE, context)
