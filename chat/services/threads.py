"""Threads: creating one (with its first messages), renaming one (its open pages are told),
deleting one (its live run is stopped first)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from chat.classes.models import DeletedUsage
from chat.engine import events
from chat.engine.runs import cancel_run
from chat.models import Assistant, Thread
from chat.services.messages import add_message


def create_thread(
    owner,
    *,
    assistant: Assistant | None = None,
    messages: Iterable[dict] = (),
    metadata: dict | None = None,
    tool_resources: dict | None = None,
    thread_id: str | None = None,
) -> Thread:
    """A new thread with its first messages (each added as ``add_message`` adds one), in
    one transaction. ``thread_id``: an id chosen in advance (a /v1 stream listens on it
    before the thread exists)."""
    extra = {"id": thread_id} if thread_id else {}
    with transaction.atomic():
        thread = Thread.objects.create(
            owner=owner, assistant=assistant, metadata=metadata or {}, tool_resources=tool_resources or {}, **extra
        )
        for message in messages:
            add_message(thread, **message)
    return thread


def rename_thread(thread: Thread, title: str) -> None:
    """Give the thread a title by hand. Once saved, every open page of it (the owner's other
    tabs, a watching tutor) shows the new title, as after an edit of the question that
    named it, and every open page of its owner the sidebar's entry (chat/consumers.py)."""
    thread.title = title
    with transaction.atomic():
        thread.save(update_fields=["title"])
        # Robust: the new title stands even if a page cannot be told (it shows it when reloaded).
        transaction.on_commit(lambda: _tell_renamed(thread, title), robust=True)


def _tell_renamed(thread: Thread, title: str) -> None:
    """The thread's pages (the heading: its owner's, a watching tutor's) and every page of
    its owner (the sidebar's entry)."""
    events.publish_sync(thread.id, events.THREAD_RENAMED, title=title)
    events.tell_owner_sync(thread.owner_id, events.CONVERSATION_RENAMED, thread_id=thread.id)


def delete_thread(thread: Thread) -> None:
    """Delete a thread with its messages and runs. A run still executing is cancelled
    first, so its task stops now instead of writing to rows that are gone. The owner's
    open pages take it off their list.

    A class conversation's record stays with its class: its quiz attempts (with their
    scores and tutors' comments) lose only their link to it (``QuizAttempt``), and what
    its runs used still counts towards the daily limits (``DeletedUsage``). A private
    conversation's quiz attempts go with it: nobody else has a claim on them."""
    active = thread.active_run()
    if active is not None:
        cancel_run(active)
    thread_id, owner_id = thread.id, thread.owner_id
    with transaction.atomic():
        DeletedUsage.keep_usage_of(thread)
        thread.quiz_attempts.filter(classroom__isnull=True).delete()
        thread.delete()
        transaction.on_commit(
            lambda: events.tell_owner_sync(owner_id, events.CONVERSATION_UNLISTED, thread_id=thread_id), robust=True
        )
