"""Classes sit beside the Assistants objects: a class has tutors and students, an
assistant is published to classes, and a thread a student starts with a published
assistant is linked to the class (``ClassThread``) so the class's tutors can read it.

The link lives here rather than on ``chat.Thread`` so that the Assistants model stays
as the API describes it. The rules for who may see what are in ``chat.access``.
"""

from __future__ import annotations

import secrets
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from chat.functions.models import score_label
from chat.models import Assistant, Message, Run, Thread

# No 0/O, 1/I/L: a code read aloud or copied from a board is typed right.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 8


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


def normalize_join_code(raw: str) -> str:
    return "".join(raw.split()).replace("-", "").upper()


class Classroom(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    join_code = models.CharField(max_length=16, unique=True, default=new_join_code)
    archived = models.BooleanField(default=False)
    # Daily limits for each student's conversations in this class (empty: no limit).
    runs_per_day = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_day = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="classrooms")

    class Meta:
        ordering = ["name", "created_at"]

    def __str__(self) -> str:
        return self.name

    def regenerate_join_code(self) -> str:
        while True:
            code = new_join_code()
            if not Classroom.objects.filter(join_code=code).exists():
                break
        self.join_code = code
        self.save(update_fields=["join_code"])
        return code


class Membership(models.Model):
    class Role(models.TextChoices):
        TUTOR = "tutor", "Tutor"
        STUDENT = "student", "Student"

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    joined_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["role", "user__username"]
        constraints = [models.UniqueConstraint(fields=["classroom", "user"], name="one_membership_per_user_and_class")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display().lower()} of {self.classroom})"


class Publication(models.Model):
    """An assistant offered to a class's students. Unpublishing deletes the row: new
    conversations stop, and existing ones stay readable through ``ClassThread``."""

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="publications")
    assistant = models.ForeignKey(Assistant, on_delete=models.CASCADE, related_name="publications")
    published_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["assistant__name"]
        constraints = [models.UniqueConstraint(fields=["classroom", "assistant"], name="one_publication_per_class")]

    def __str__(self) -> str:
        return f"{self.assistant.name} in {self.classroom}"


class ClassThread(models.Model):
    """A thread started in a class: its tutors may read it."""

    thread = models.OneToOneField(Thread, on_delete=models.CASCADE, primary_key=True, related_name="class_link")
    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="class_threads")

    def __str__(self) -> str:
        return f"{self.thread_id} in {self.classroom}"


class QuizGrade(models.Model):
    """A tutor's override of a quiz attempt's score, with a comment. The model's own score
    and feedback are on the attempt (recorded when the run graded it)."""

    attempt = models.OneToOneField("functions.QuizAttempt", on_delete=models.CASCADE, primary_key=True, related_name="grade")
    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="quiz_grades")
    override_score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    comment = models.TextField(blank=True, max_length=2000)
    graded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.attempt} in {self.classroom}: {score_label(self.override_score, self.attempt.max_score)}"

    @staticmethod
    def check_score(attempt, score) -> None:
        """A tutor's score is within the quiz's: 5 on a quiz out of 2 is a typo, not a grade."""
        if score is not None and attempt.max_score is not None and score > attempt.max_score:
            limit = f"{attempt.max_score.normalize():f}"
            raise ValidationError({"override_score": f"This quiz is out of {limit}: the score can be at most {limit}."})

    def clean(self) -> None:  # the admin's form
        if self.attempt_id is not None:
            self.check_score(self.attempt, self.override_score)


class DeletedUsage(models.Model):
    """What a student's class conversations used before they were deleted, per UTC day:
    the runs started and the tokens they took. Deleting a conversation takes its runs
    with it, but not what they used: the daily limits and the tutors' counts add these
    rows to the runs that remain (``chat.classes.quotas``, ``chat.classes.progress``)."""

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="deleted_usage")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    runs = models.PositiveIntegerField(default=0)
    tokens = models.PositiveBigIntegerField(default=0)
    # The latest activity of the conversations deleted that day, so a student's "last
    # active" outlives them as their runs do (``chat.classes.progress.roster``).
    last_active = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["classroom", "user", "day"], name="one_deleted_usage_per_day")]

    def __str__(self) -> str:
        return f"{self.user} in {self.classroom} on {self.day}: {self.runs} runs, {self.tokens} tokens (deleted)"

    @classmethod
    def keep_usage_of(cls, thread: Thread) -> None:
        """Before ``thread`` is deleted (in the same transaction): add what its runs used,
        by the UTC day each started, to its owner's rows in its class, and keep its last
        activity (when it holds a message, as the roster counts it). Nothing for a
        private conversation."""
        classroom_id = ClassThread.objects.filter(thread=thread).values_list("classroom_id", flat=True).first()
        if classroom_id is None:
            return
        days: dict = {}
        for created_at, usage in Run.objects.filter(thread=thread).values_list("created_at", "usage"):
            day = days.setdefault(created_at.astimezone(dt_timezone.utc).date(), [0, 0])
            day[0] += 1
            day[1] += _total_tokens(usage)
        for day, (runs, tokens) in days.items():
            row, _ = cls.objects.get_or_create(classroom_id=classroom_id, user_id=thread.owner_id, day=day)
            cls.objects.filter(pk=row.pk).update(runs=F("runs") + runs, tokens=F("tokens") + tokens)
        if thread.updated_at is not None and Message.objects.filter(thread=thread).exists():
            when = Value(thread.updated_at)
            day = thread.updated_at.astimezone(dt_timezone.utc).date()
            row, _ = cls.objects.get_or_create(classroom_id=classroom_id, user_id=thread.owner_id, day=day)
            # Greatest of a NULL is NULL on SQLite (ignored on PostgreSQL): Coalesce first.
            cls.objects.filter(pk=row.pk).update(last_active=Greatest(Coalesce("last_active", when), when))


def _total_tokens(usage) -> int:
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    return total if isinstance(total, int) and total > 0 else 0
