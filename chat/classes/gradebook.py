"""The gradebook of a class: every quiz its students submitted in the class's
conversations (kept when a conversation is deleted or its student leaves the class), with the score and feedback recorded when the run graded it (fields on
the attempt, never read back from the feedback's prose), and the tutors' overrides."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from chat.classes.models import Classroom, Membership, QuizGrade
from chat.functions.models import QuizAttempt, score_label

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclass(frozen=True)
class Result:
    """What counts for an attempt: the tutor's score when set, else the model's."""

    score: Decimal | None
    max_score: Decimal | None
    overridden: bool
    comment: str

    @property
    def label(self) -> str:
        return score_label(self.score, self.max_score)


def result(attempt: QuizAttempt) -> Result:
    override = getattr(attempt, "grade", None)
    if override is not None and override.override_score is not None:
        return Result(override.override_score, attempt.max_score, True, override.comment)
    return Result(attempt.score, attempt.max_score, False, override.comment if override else "")


def _with_results(attempts) -> list[QuizAttempt]:
    attempts = list(attempts)
    for attempt in attempts:
        attempt.result = result(attempt)
    return attempts


def class_attempts(classroom: Classroom, user=None):
    """Every attempt taken in the class, by its students past and present: a grade stays
    when its conversation is deleted or its student leaves."""
    found = QuizAttempt.objects.filter(classroom=classroom)
    if user is not None:
        found = found.filter(user=user)
    return found.select_related("user", "assistant", "grade").order_by("user__username", "title", "submitted_at")


def student_attempts(classroom: Classroom, user) -> list[QuizAttempt]:
    """One student's attempts in the class, newest first, each with its ``result``."""
    return _with_results(class_attempts(classroom, user).order_by("-submitted_at"))


def get_attempt(classroom: Classroom, attempt_id, user=None) -> QuizAttempt | None:
    """An attempt of the class (of ``user`` only, when given), with its ``result``."""
    found = class_attempts(classroom, user).filter(pk=attempt_id).first()
    if found is not None:
        found.result = result(found)
    return found


def override(classroom: Classroom, attempt: QuizAttempt, score, comment: str, tutor) -> QuizGrade:
    """Raises ValidationError for a score above the quiz's maximum."""
    QuizGrade.check_score(attempt, score)
    row, _ = QuizGrade.objects.update_or_create(
        attempt=attempt,
        defaults={"classroom": classroom, "override_score": score, "comment": comment, "graded_by": tutor, "updated_at": timezone.now()},
    )
    return row


def table(classroom: Classroom) -> tuple[list[str], list[dict]]:
    """Quiz titles (columns) and one row per student: {student, left, cells: [[attempts…] per
    title]}: every current student, and every former one (``left``) who has attempts."""
    attempts = _with_results(class_attempts(classroom))
    titles = sorted({a.title for a in attempts})
    memberships = classroom.memberships.filter(role=Membership.Role.STUDENT).select_related("user")
    current = {m.user_id: m.user for m in memberships}
    students = {a.user_id: a.user for a in attempts} | current
    attempts_of = defaultdict(list)
    for attempt in attempts:
        attempts_of[attempt.user_id].append(attempt)
    rows = []
    for student in sorted(students.values(), key=lambda user: user.get_username()):
        mine = attempts_of[student.pk]
        rows.append({"student": student, "left": student.pk not in current, "cells": [[a for a in mine if a.title == t] for t in titles]})
    return titles, rows


def spreadsheet_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _number(value) -> str:
    return "" if value is None else f"{Decimal(value).normalize():f}"


def csv_export(classroom: Classroom) -> str:
    """One row per attempt; every cell is text a spreadsheet will not run."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([
        "student", "quiz", "submitted_at", "assistant", "model_score", "max_score", "override_score", "score",
        "comment", "answers", "feedback",
    ])
    for attempt in _with_results(class_attempts(classroom)):
        grade = getattr(attempt, "grade", None)
        answers = " | ".join(f"{a.get('question_text') or ''}: {a.get('answer') or ''}" for a in attempt.answers or [] if isinstance(a, dict))
        cells = [
            attempt.user.get_username(), attempt.title, attempt.submitted_at.isoformat(),
            attempt.assistant.name if attempt.assistant else "", _number(attempt.score), _number(attempt.max_score),
            _number(grade.override_score if grade else None), _number(attempt.result.score),
            attempt.result.comment, answers, attempt.feedback,
        ]
        writer.writerow([spreadsheet_safe(c) for c in cells])
    return out.getvalue()
