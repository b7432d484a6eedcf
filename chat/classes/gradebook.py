"""The gradebook of a class: every quiz its current students submitted in the class's
conversations, with a score when the rule-based grading can check the questions (the
same grading the offline tutor reports), and the tutors' overrides."""

from __future__ import annotations

import csv
import io

from django.utils import timezone

from chat.classes.models import Classroom, Membership, QuizGrade
from chat.functions.models import QuizAttempt
from chat.functions.quizzes import grade

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def class_attempts(classroom: Classroom):
    students = classroom.memberships.filter(role=Membership.Role.STUDENT).values("user_id")
    return (
        QuizAttempt.objects.filter(thread__class_link__classroom=classroom, user_id__in=students)
        .select_related("user", "assistant", "grade")
        .order_by("user__username", "title", "submitted_at")
    )


def auto_grade(attempt: QuizAttempt) -> tuple[int | None, int | None]:
    """(right, checkable) over the questions the rules can check; (None, None) if none."""
    right = checked = 0
    for index, question in enumerate(attempt.questions or []):
        answer = attempt.answers[index] if index < len(attempt.answers or []) else {}
        text = answer.get("answer", "") if isinstance(answer, dict) else str(answer)
        correct, _ = grade(question if isinstance(question, dict) else {}, text)
        if correct is not None:
            checked += 1
            right += int(correct)
    return (right, checked) if checked else (None, None)


def grade_for(classroom: Classroom, attempt: QuizAttempt) -> QuizGrade:
    """The attempt's grade, made (and the automatic score stored) on first sight."""
    try:
        return attempt.grade
    except QuizGrade.DoesNotExist:
        right, checked = auto_grade(attempt)
        found, _ = QuizGrade.objects.get_or_create(
            attempt=attempt, defaults={"classroom": classroom, "auto_score": right, "max_score": checked}
        )
        attempt.grade = found
        return found


def get_attempt(classroom: Classroom, attempt_id) -> QuizAttempt | None:
    if not str(attempt_id).isdigit():
        return None
    return class_attempts(classroom).filter(pk=int(attempt_id)).first()


def override(grade_row: QuizGrade, score, comment: str, tutor) -> None:
    grade_row.override_score, grade_row.comment, grade_row.graded_by = score, comment, tutor
    grade_row.updated_at = timezone.now()
    grade_row.save(update_fields=["override_score", "comment", "graded_by", "updated_at"])


def table(classroom: Classroom) -> tuple[list[str], list[dict]]:
    """Quiz titles (columns) and one row per student: {student, cells: [[attempts…] per title]}."""
    attempts = list(class_attempts(classroom))
    for attempt in attempts:
        grade_for(classroom, attempt)
    titles = sorted({a.title for a in attempts})
    rows = []
    for membership in classroom.memberships.filter(role=Membership.Role.STUDENT).select_related("user").order_by("user__username"):
        mine = [a for a in attempts if a.user_id == membership.user_id]
        rows.append({"student": membership.user, "cells": [[a for a in mine if a.title == t] for t in titles]})
    return titles, rows


def spreadsheet_safe(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_export(classroom: Classroom) -> str:
    """One row per attempt; every cell is text a spreadsheet will not run."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student", "quiz", "submitted_at", "assistant", "auto_score", "max_score", "override_score", "score", "comment", "answers"])
    for attempt in class_attempts(classroom):
        row = grade_for(classroom, attempt)
        answers = " | ".join(
            f"{(a.get('question_text') if isinstance(a, dict) else '') or ''}: {(a.get('answer') if isinstance(a, dict) else a) or ''}"
            for a in attempt.answers or []
        )
        cells = [
            attempt.user.get_username(), attempt.title, attempt.submitted_at.isoformat(),
            attempt.assistant.name if attempt.assistant else "", row.auto_score, row.max_score,
            row.override_score, row.score, row.comment, answers,
        ]
        writer.writerow([spreadsheet_safe(c) for c in cells])
    return out.getvalue()
