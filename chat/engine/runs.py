"""Starting, cancelling and resuming runs: the engine's operations, which the services
(``chat.services``) and through them every surface use."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.engine import dispatch, events, states
from chat.functions.models import QuizAttempt
from chat.models import Assistant, Run, RunStep, Thread
from chat.prepared import PreparedSaves

# Every run's INSERT, compiled once (chat.prepared): the same columns whatever it overrides.
_runs = PreparedSaves(Run)


class ThreadBusy(Exception):
    """The thread already has an active run."""

    def __init__(self, run: Run | None = None) -> None:
        super().__init__("This thread already has an active run. Wait for it to finish, or cancel it.")
        self.run = run


class InvalidToolOutputs(Exception):
    pass


def check_idle(thread: Thread) -> None:
    """No message or run may be added to a thread while a run is active on it."""
    active = thread.active_run()
    if active is not None:
        raise ThreadBusy(active)


def create_run(thread: Thread, assistant: Assistant, *, start: bool = True, **overrides) -> Run:
    """Queue a run of ``assistant`` on ``thread``; it starts after the transaction commits
    (``start=False`` leaves it queued for a caller that executes it itself)."""
    check_idle(thread)
    return queue_run(thread, assistant, start=start, **overrides)


def queue_run(thread: Thread, assistant: Assistant, *, start: bool = True, **overrides) -> Run:
    """create_run() for a caller that has just checked, in its transaction, that the thread
    is idle (a message and its run: one check). A run that got in since is caught by the
    one_active_run_per_thread constraint, and the caller's transaction rolls back: no
    savepoint (two statements in every run's start) to go on reading in it, so ThreadBusy
    names no run; a caller that shows it reads it after the rollback."""
    fields = {
        "model": assistant.model,
        "instructions": assistant.instructions,
        "tools": assistant.tools,
        "temperature": assistant.temperature,
        "top_p": assistant.top_p,
        "response_format": assistant.response_format,
    }
    fields.update({k: v for k, v in overrides.items() if v is not None})
    try:
        with transaction.atomic(savepoint=False):
            run = _runs.create(thread=thread, assistant=assistant, **fields)
    except IntegrityError:  # another request queued a run between the check and this insert
        raise ThreadBusy() from None
    if start:
        transaction.on_commit(lambda: dispatch.dispatch(run.id))
    return run


def cancel_run(run: Run) -> bool:
    """Ask a run to stop. Returns False when it had already ended."""
    if not run.transition(states.CANCELLING, expect=frozenset({states.QUEUED, states.IN_PROGRESS, states.REQUIRES_ACTION})):
        return False
    if not run.worker:  # nobody is executing it (queued, or waiting for tool outputs)
        run.close_open_steps(RunStep.CANCELLED)
        run.transition(states.CANCELLED, required_action=None)
        # No engine is there to announce it: tell every open tab of the thread.
        events.publish_sync(run.thread_id, "run.status", run_id=run.id)
    else:
        dispatch.interrupt(run.id)
    return True


def submit_tool_outputs(run: Run, outputs: list[dict], *, start: bool = True) -> Run:
    """Give a run in requires_action one output per pending call, and resume it."""
    if run.status != states.REQUIRES_ACTION:
        raise InvalidToolOutputs(f"This run is {run.status}, not waiting for tool outputs.")
    pending = [c["id"] for c in run.required_action["submit_tool_outputs"]["tool_calls"]]
    given = [o.get("tool_call_id") for o in outputs]
    if len(given) != len(set(given)):
        raise InvalidToolOutputs("Each tool call may be answered only once.")
    if set(given) != set(pending):
        missing = sorted(set(pending) - set(given))
        extra = sorted(set(given) - set(pending))
        detail = "; ".join(filter(None, [missing and f"missing {', '.join(missing)}", extra and f"unknown {', '.join(map(str, extra))}"]))
        raise InvalidToolOutputs(f"Submit exactly one output for every pending tool call ({detail}).")
    by_id = {o["tool_call_id"]: str(o.get("output", "")) for o in outputs}
    calls = run.required_action["submit_tool_outputs"]["tool_calls"]
    with transaction.atomic():
        step = RunStep.objects.select_for_update().get(run=run, type=RunStep.TOOL_CALLS, status=RunStep.IN_PROGRESS)
        entries = step.step_details["tool_calls"]
        for entry in entries:
            if entry["id"] in by_id:
                entry["function"]["output"] = by_id[entry["id"]]
        if not run.transition(states.QUEUED, expect=states.REQUIRES_ACTION, required_action=None, expires_at=None):
            raise InvalidToolOutputs(f"This run is {run.status}, not waiting for tool outputs.")
        step.status, step.completed_at = RunStep.COMPLETED, timezone.now()
        step.save(update_fields=["step_details", "status", "completed_at"])
        QuizAttempt.record_submitted(run, calls, by_id)
        if start:
            transaction.on_commit(lambda: dispatch.dispatch(run.id))
    return run
