"""Sending a student's answers: one output per pending call, in one submit-tool-outputs
operation (which records the quiz attempts for the tutor, as it does through /v1)."""

from __future__ import annotations

from chat.functions.forms import CallForm
from chat.models import Run
from chat.services.runs import submit_tool_outputs


def submit_call_forms(run: Run, user, forms: list[CallForm]) -> Run:
    """Raises chat.engine.runs.InvalidToolOutputs when the run no longer waits for these calls,
    ``chat.services.Refused`` when its conversation is closed."""
    return submit_tool_outputs(run, [{"tool_call_id": form.id, "output": form.output} for form in forms])
