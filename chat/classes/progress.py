"""What a class's tutors see of their students' work: per-student counts and a filtered
list of the class's conversations. Only conversations started in the class count, and
only those of current students (as chat.access.readable_threads rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, IntegerField, Max, Q, Sum, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from chat.classes.models import Classroom, DeletedUsage, Membership
from chat.models import Message, Run, Thread
from chat.user_input import whole_number


@dataclass
class StudentProgress:
    membership: Membership
    conversations: int = 0
    runs: int = 0
    tokens: int = 0
    last_active: datetime | None = None


def class_conversations(classroom: Classroom):
    """The class's conversations of its current students that hold a message, newest first
    (as in the student's own list: one opened and left empty is not listed)."""
    students = classroom.memberships.filter(role=Membership.Role.STUDENT).values("user_id")
    return (
        Thread.objects.filter(class_link__classroom=classroom, owner_id__in=students)
        .holding_messages()
        .select_related("owner", "assistant")
        .order_by("-updated_at")
    )


def filter_conversations(threads, *, student_id: str = "", assistant_id: str = "", text: str = ""):
    if (student := whole_number(student_id)) is not None:
        threads = threads.filter(owner_id=student)
    if assistant_id:
        threads = threads.filter(assistant_id=assistant_id)
    if text:
        # Message content is JSON: non-ASCII text is stored escaped, so it is matched in titles only.
        matching = Message.objects.annotate(raw=Cast("content", TextField())).filter(raw__icontains=text)
        threads = threads.filter(Q(title__icontains=text) | Q(pk__in=matching.values("thread_id")))
    return threads


def _latest(*moments: datetime | None) -> datetime | None:
    return max((moment for moment in moments if moment is not None), default=None)


def roster(classroom: Classroom) -> list[StudentProgress]:
    """Every student with their conversations (those listed: holding a message), runs,
    tokens and last activity in this class (those of deleted conversations too: the one
    rule for "last active" of the class page and the student's page)."""
    threads = {
        row["owner_id"]: row
        for row in Thread.objects.filter(class_link__classroom=classroom)
        .holding_messages()
        .values("owner_id")
        .annotate(conversations=Count("pk"), last_active=Max("updated_at"))
    }
    runs = {
        row["thread__owner_id"]: row
        for row in Run.objects.filter(thread__class_link__classroom=classroom)
        .values("thread__owner_id")
        .annotate(runs=Count("pk"), tokens=Sum(Cast(KT("usage__total_tokens"), IntegerField())))
    }
    deleted = {
        row["user_id"]: row
        for row in DeletedUsage.objects.filter(classroom=classroom)
        .values("user_id")
        .annotate(runs=Sum("runs"), tokens=Sum("tokens"), last_active=Max("last_active"))
    }
    progress = []
    for membership in classroom.memberships.filter(role=Membership.Role.STUDENT).select_related("user").order_by("user__username"):
        mine, ran = threads.get(membership.user_id, {}), runs.get(membership.user_id, {})
        gone = deleted.get(membership.user_id, {})
        progress.append(
            StudentProgress(
                membership=membership,
                conversations=mine.get("conversations", 0),
                runs=ran.get("runs", 0) + gone.get("runs", 0),
                tokens=(ran.get("tokens") or 0) + gone.get("tokens", 0),
                last_active=_latest(mine.get("last_active"), gone.get("last_active")),
            )
        )
    return progress
