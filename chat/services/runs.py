"""Which assistant may run on a thread, said plainly when it may not; and the answers to
a run's pending function calls (a quiz's). The same rules for the browser (composer,
quiz form) and /v1 (create run, submit_tool_outputs)."""

from __future__ import annotations

from chat.access import assistant_withdrawn, assistants_for_thread, thread_classroom
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
    if not assistants_for_thread(user, thread).exists():
        return Refused(
            f"This conversation belongs to the class “{classroom.name}” and is closed: no assistant of the class is "
            "available in it any more. You can still read it; start a conversation of your own to go on.",
            param="assistant_id",
        )
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
