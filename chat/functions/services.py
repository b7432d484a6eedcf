"""Sending a student's answers: one output per pending call, in one submit-tool-outputs
operation, and the quiz answers recorded for the tutor."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from chat.engine.runs import submit_tool_outputs
from chat.functions.forms import CallForm
from chat.functions.models import QuizAttempt
from chat.models import Run


def submit_call_forms(run: Run, user, forms: list[CallForm]) -> Run:
    """Raises chat.engine.runs.InvalidToolOutputs when the run no longer waits for these calls."""
    outputs = [{"tool_call_id": form.id, "output": form.output} for form in forms]
    with transaction.atomic():
        submit_tool_outputs(run, outputs)
        now = timezone.now()
        QuizAttempt.objects.bulk_create(
            QuizAttempt(
                run=run, thread_id=run.thread_id, assistant_id=run.assistant_id, user=user, tool_call_id=form.id,
                title=form.title[:512], questions=form.arguments.get("questions", []), answers=form.answers, submitted_at=now,
            )
            for form in forms
            if form.is_quiz
        )
    return run
