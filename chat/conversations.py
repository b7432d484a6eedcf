"""The browser's list of conversations: which threads it shows (those with messages),
how it groups them by date, what a search finds, and "new conversation" reusing an
empty one instead of piling up blank threads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from chat.models import Assistant, Message, Run, Thread
from chat.services.threads import create_thread

SEARCH_MAX_CHARS = 200  # a search box, not a document


@dataclass
class Group:
    label: str
    threads: list[Thread]

    @property
    def list_id(self) -> str:
        return TODAY_LIST_ID if self.label == "Today" else ""


def listed_threads(user, query: str = "") -> QuerySet[Thread]:
    """The user's conversations that hold at least one message, newest first; with a
    query, those whose title or any message's text contains it (case-insensitive)."""
    threads = Thread.objects.filter(owner=user).holding_messages().select_related("assistant", "class_link__classroom")
    query = " ".join(query.split())[:SEARCH_MAX_CHARS]
    if query:
        matching = Message.objects.filter(thread=OuterRef("pk"), content__icontains=query)
        threads = threads.filter(Q(title__icontains=query) | Exists(matching))
    return threads.order_by("-updated_at")


# The id of the "Today" group's list, where a conversation newly listed is put on top.
TODAY_LIST_ID = "conversations-today"


def grouped_by_date(threads, today=None) -> list[Group]:
    """Today, Yesterday, Previous 7 days, Older — by the local date of the last activity."""
    today = today or timezone.localdate()
    bounds = [
        ("Today", today),
        ("Yesterday", today - timedelta(days=1)),
        ("Previous 7 days", today - timedelta(days=7)),
    ]
    groups = {label: Group(label, []) for label, _ in bounds} | {"Older": Group("Older", [])}
    for thread in threads:
        day = timezone.localdate(thread.updated_at)
        label = next((label for label, start in bounds if day >= start), "Older")
        groups[label].threads.append(thread)
    return [group for group in groups.values() if group.threads]


def empty_conversation(user, assistant: Assistant, classroom=None) -> Thread | None:
    """The user's newest thread with nothing asked in it (no message, no run) in the same
    place, now talking to ``assistant``, or None. The browser's "New conversation" and a
    class's "Start a conversation" take it instead of piling up blank threads (/v1's
    threads.create always creates). The same place: a private thread for a private
    conversation, a thread of ``classroom`` for that class (never one for the other)."""
    threads = Thread.objects.filter(owner=user)
    if classroom is None:
        threads = threads.filter(class_link__isnull=True)
    else:
        threads = threads.filter(class_link__classroom=classroom)
    empty = (
        threads.without_messages()
        .exclude(Exists(Run.objects.filter(thread=OuterRef("pk"))))
        .order_by("-created_at")
        .first()
    )
    if empty is not None:
        empty.assistant = assistant
        empty.updated_at = timezone.now()
        empty.save(update_fields=["assistant", "updated_at"])
    return empty


def start_conversation(user, assistant: Assistant) -> Thread:
    """A private thread to write in: the user's newest empty one if there is one (so that
    "New conversation" pressed twice leaves no blank thread behind), else a new one."""
    empty = empty_conversation(user, assistant)
    if empty is None:
        return create_thread(user, assistant=assistant)
    return empty
