"""Which assistant may run on a thread, said plainly when it may not; and the answers to
a run's pending function calls (a quiz's). The same rules for the browser (composer,
quiz form) and /v1 (create run, submit_tool_outputs)."""

from __future__ import annotations

from chat.access import assistant_withdrawn, assistants_for_thread, is_student_of, thread_classroom
from chat.engine import runs as engine_runs
from chat.models import Assistant, Run, Thread
from chat.services import Refused

CONVERSATION_CLOSED = (
    "Nothing was sent: this conversation is closed (its assistant is no longer available here, "
    "for example because the tutor unpublished it), so it cannot take answers any more. You can still read it."
)


def submit_tool_outputs(run: Run, outputs: list[dict], *, start: bool = True) -> Run:
    """Resume ``run`` with one output per pending call, if its assistant may still answer
    on the thread: a withdrawn assistant (unpublished, class archived, student gone) must
    not grade or go on. Raises ``chat.engine.runs.InvalidToolOutputs`` for outputs that do
    not match the pending calls."""
    if assistant_withdrawn(run):
        raise Refused(CONVERSATION_CLOSED, param="tool_outputs")
    return engine_runs.submit_tool_outputs(run, outputs, start=start)


def closed_notice(user, thread: Thread) -> str | None:
    """Why ``user``'s class conversation takes no new messages, and what they can do, or
    None when an assistant of its class is there for them (or it is not a class thread).
    One wording for the composer's notice and for a refused send (browser and /v1)."""
    classroom = thread_classroom(thread)
    if classroom is None or assistants_for_thread(user, thread).exists():
        return None
    if not is_student_of(user, classroom):
        return (
            f"This conversation is closed because you left the class “{classroom.name}”: its tutors can no longer "
            "read it and it takes no new messages. You can still read it here; to talk to the class's assistants "
            "again, join the class again with its code and start a new conversation there."
        )
    if classroom.archived:
        return (
            f"This conversation is closed because the class “{classroom.name}” is archived. You can still read it; "
            "your own assistants are in “New conversation”."
        )
    return (
        f"This conversation is closed: the tutors of “{classroom.name}” took its assistant out of the class, and "
        "no assistant is published there now. You can still read it; when a tutor publishes one, start a new "
        "conversation from the class's page."
    )


def refusal_to_run(user, thread: Thread, assistant_id: str) -> Refused | None:
    """Why ``user`` may not run ``assistant_id`` on their class thread, when they know that
    assistant (their own, or the thread's own): a class thread runs only its class's
    published assistants. None when it may run, or when the assistant is not one they know
    (the caller says it is not found: others' assistants stay unseen)."""
    classroom = thread_classroom(thread)
    if classroom is None or assistants_for_thread(user, thread).filter(pk=assistant_id).exists():
        return None
    own = Assistant.objects.filter(pk=assistant_id, owner_id=user.pk).first()
    if own is None and assistant_id != thread.assistant_id:
        return None
    if notice := closed_notice(user, thread):
        return Refused(f"Nothing was sent. {notice}", param="assistant_id")
    refused = (
        f"your assistant “{own.name}” ({assistant_id})"
        if own
        else f"{assistant_id}, which is no longer published to it"
    )
    return Refused(
        f"This conversation belongs to the class “{classroom.name}”: only the assistants its tutors published to "
        f"the class can answer in it, not {refused}. Run your own assistants in a conversation of your own.",
        param="assistant_id",
    )
