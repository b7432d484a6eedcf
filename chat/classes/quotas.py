"""Daily limits per student in a class: runs started and tokens used (from the usage of
runs that finished) since midnight UTC, in the class's conversations only, those since
deleted included (``DeletedUsage``): deleting a conversation gives nothing back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone

from django.db.models import Count, IntegerField, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from chat.access import thread_classroom
from chat.classes.models import Classroom, DeletedUsage
from chat.models import Run, Thread


def day_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Today in UTC: when the count started and when it resets."""
    now = now or timezone.now()
    start = datetime.combine(now.astimezone(dt_timezone.utc).date(), time.min, tzinfo=dt_timezone.utc)
    return start, start + timedelta(days=1)


def usage_today(classroom: Classroom, user) -> tuple[int, int]:
    """(runs, tokens) of ``user`` in ``classroom`` today."""
    start, _ = day_bounds()
    totals = Run.objects.filter(
        thread__class_link__classroom=classroom, thread__owner=user, created_at__gte=start
    ).aggregate(runs=Count("pk"), tokens=Sum(Cast(KT("usage__total_tokens"), IntegerField())))
    deleted = DeletedUsage.objects.filter(classroom=classroom, user=user, day=start.date()).first()
    if deleted is None:
        return totals["runs"], totals["tokens"] or 0
    return totals["runs"] + deleted.runs, (totals["tokens"] or 0) + deleted.tokens


@dataclass(frozen=True)
class OverQuota:
    """Why the thread's owner may not start another run today, and when that ends."""

    message: str
    resets_at: datetime


def over_quota(thread: Thread) -> OverQuota | None:
    """The one quota rule, asked by the browser's composer and by /v1 alike."""
    classroom = thread_classroom(thread)
    if classroom is None or (classroom.runs_per_day is None and classroom.tokens_per_day is None):
        return None
    runs, tokens = usage_today(classroom, thread.owner)
    if classroom.runs_per_day is not None and runs >= classroom.runs_per_day:
        limit = classroom.runs_per_day
        used = f"today's limit of {limit} message{'' if limit == 1 else 's'}"
    elif classroom.tokens_per_day is not None and tokens >= classroom.tokens_per_day:
        used = f"today's limit of {classroom.tokens_per_day:,} tokens"
    else:
        return None
    _, resets = day_bounds()
    left = resets - timezone.now()
    hours, minutes = divmod(int(left.total_seconds()) // 60, 60)
    message = (
        f"You have reached {used} in {classroom.name}. You can send again at 00:00 UTC "
        f"({resets:%Y-%m-%d}, in {hours} h {minutes} min)"
    )
    return OverQuota(message, resets)


def quota_exceeded(thread: Thread) -> str | None:
    """The composer's notice when over the limit (the draft stays in the composer)."""
    over = over_quota(thread)
    return None if over is None else f"{over.message}; your message is kept below."
