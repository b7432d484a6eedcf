"""What students answered: one row per quiz (a display_quiz call) submitted from the browser,
kept for a tutor's gradebook."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class QuizAttempt(models.Model):
    run = models.ForeignKey("chat.Run", on_delete=models.CASCADE, related_name="quiz_attempts")
    thread = models.ForeignKey("chat.Thread", on_delete=models.CASCADE, related_name="quiz_attempts")
    # The assistant (tutor) that set the quiz; kept when the run's assistant is deleted as null.
    assistant = models.ForeignKey("chat.Assistant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiz_attempts")
    tool_call_id = models.CharField(max_length=64)
    title = models.CharField(max_length=512)
    # The questions as the tutor set them: [{"question_text", "question_type", "choices"}, …]
    questions = models.JSONField(default=list)
    # One per question, in order: [{"question_text", "answer"}, …]
    answers = models.JSONField(default=list)
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [models.UniqueConstraint(fields=["run", "tool_call_id"], name="one_attempt_per_quiz_call")]

    def __str__(self) -> str:
        return f"{self.title} ({self.user})"
