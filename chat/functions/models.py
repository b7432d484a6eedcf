"""What students answered: one row per quiz call (``display_quiz`` or any function whose
name starts with ``quiz``) answered through submit-tool-outputs — from the browser's quiz
form or through /v1 — kept with the model's feedback and score for a tutor's gradebook.

The row is made when the answers are submitted and completed when the model's next
answer in the run (its grading) is saved: the feedback is that answer's text and the
score is what the model reported structurally (the offline model always reports one;
a model that only writes prose leaves it empty for the tutor). Nothing is parsed from
prose afterwards."""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from chat.models import Thread

QUIZ_FUNCTION = "display_quiz"


def is_quiz_function(name: str) -> bool:
    return name == QUIZ_FUNCTION or name.startswith("quiz")


def answers_from_output(output: str, questions: list) -> list[dict]:
    """[{"question_text", "answer"}, …] from a quiz call's output: a JSON list of strings
    or of {"answer": …}, or {"answers": […]}; any other output is one answer."""
    try:
        value = json.loads(output)
    except ValueError:
        value = output
    if isinstance(value, dict) and isinstance(value.get("answers", value.get("responses")), list):
        value = value.get("answers", value.get("responses"))
    if not isinstance(value, list):
        return [{"question_text": "", "answer": output}]
    texts = [str(q.get("question_text", "")) if isinstance(q, dict) else "" for q in questions]
    answers = []
    for index, item in enumerate(value):
        answer = item.get("answer", "") if isinstance(item, dict) else item
        text = texts[index] if index < len(texts) else (item.get("question_text", "") if isinstance(item, dict) else "")
        answers.append({"question_text": str(text), "answer": "" if answer is None else str(answer)})
    return answers


SCORE_LIMIT = Decimal("9999.99")  # what the score fields hold


def _fitting(score, max_score) -> tuple:
    """A reported score kept only when it makes sense (0 ≤ score ≤ max, both storable)."""
    if score is None or max_score is None:
        return None, None
    score, max_score = Decimal(score).quantize(Decimal("0.01")), Decimal(max_score).quantize(Decimal("0.01"))
    if not (0 <= score <= max_score <= SCORE_LIMIT and max_score > 0):
        return None, None
    return score, max_score


class QuizAttempt(models.Model):
    """A graded record: it outlives its conversation. A student who deletes the
    conversation loses the thread and run links (nulled), never the attempt, its score or
    a tutor's comment: the class it was taken in (``classroom``) keeps it in its gradebook."""

    run = models.ForeignKey("chat.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="quiz_attempts")
    thread = models.ForeignKey("chat.Thread", null=True, blank=True, on_delete=models.SET_NULL, related_name="quiz_attempts")
    # The class whose conversation the quiz was taken in (none for a private conversation).
    classroom = models.ForeignKey(
        "classes.Classroom", null=True, blank=True, on_delete=models.CASCADE, related_name="quiz_attempts"
    )
    # The assistant (tutor) that set the quiz; kept when the run's assistant is deleted as null.
    assistant = models.ForeignKey("chat.Assistant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    tool_call_id = models.CharField(max_length=64)
    function_name = models.CharField(max_length=64, default=QUIZ_FUNCTION)
    title = models.CharField(max_length=512)
    # The questions as the tutor set them: [{"question_text", "question_type", "choices"}, …]
    questions = models.JSONField(default=list)
    # One per question, in order: [{"question_text", "answer"}, …]
    answers = models.JSONField(default=list)
    submitted_at = models.DateTimeField(default=timezone.now)
    # The grading: the model's answer after the submission, and the score it reported.
    feedback = models.TextField(blank=True)
    score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    max_score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    graded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [models.UniqueConstraint(fields=["run", "tool_call_id"], name="one_attempt_per_quiz_call")]

    def __str__(self) -> str:
        return f"{self.title} ({self.user})"

    @classmethod
    def record_submitted(cls, run, calls: list[dict], outputs: dict[str, str]) -> list[QuizAttempt]:
        """One attempt per quiz call among ``calls`` (required_action's tool calls) answered in ``outputs``."""
        now, made = timezone.now(), []
        classroom_id = Thread.objects.filter(pk=run.thread_id).values_list("class_link__classroom_id", flat=True).first()
        for call in calls:
            name = call["function"]["name"]
            if not is_quiz_function(name) or call["id"] not in outputs:
                continue
            try:
                arguments = json.loads(call["function"].get("arguments") or "{}")
            except ValueError:
                arguments = {}
            arguments = arguments if isinstance(arguments, dict) else {}
            questions = arguments.get("questions") if isinstance(arguments.get("questions"), list) else []
            made.append(cls(
                run=run, thread_id=run.thread_id, classroom_id=classroom_id, assistant_id=run.assistant_id, user_id=run.thread.owner_id,
                tool_call_id=call["id"], function_name=name[:64], title=str(arguments.get("title") or name)[:512],
                questions=questions, answers=answers_from_output(outputs[call["id"]], questions), submitted_at=now,
            ))
        return cls.objects.bulk_create(made)

    @classmethod
    def record_grading(cls, run, feedback: str, scores: dict[str, tuple[Decimal, Decimal]]) -> int:
        """The run's first answer after its quizzes were submitted is their grading."""
        ungraded = cls.objects.filter(run=run, graded_at__isnull=True)
        count, now = 0, timezone.now()
        for attempt in ungraded:
            attempt.feedback = feedback
            attempt.score, attempt.max_score = _fitting(*scores.get(attempt.tool_call_id, (None, None)))
            attempt.graded_at = now
            attempt.save(update_fields=["feedback", "score", "max_score", "graded_at"])
            count += 1
        return count

    @property
    def score_label(self) -> str:
        return score_label(self.score, self.max_score)


def _number(value) -> str:
    return f"{Decimal(value).normalize():f}"  # 1.50 -> 1.5, 2.00 -> 2


def score_label(score, max_score) -> str:
    if score is None:
        return "—"
    return f"{_number(score)}/{_number(max_score)}" if max_score else _number(score)
